"""Helpers for the event source mapping e2e modules: a recording consumer, queues, mappings."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.async_support import ROLE, RUNTIME, records
from tests.support.server import shared_file, wait_until
from tests.support.zips import python_zip

ACCOUNT = "000000000000"
# Appends one JSON line per invocation ({"batch": [message ids], "bodies": [...], "records": ...}), then
# answers as the first record's body asks: {"fail": true} raises; {"reply": X} returns X (JSON);
# {"sleep": s} sleeps first; {"fail_ids": true} reports every message whose body has "bad" as failed.
CONSUMER = '''
import json, os, time

def handler(event, context):
    recs = event["Records"]
    with open(os.environ["RECORD_PATH"], "a") as f:
        f.write(json.dumps({"batch": [r["messageId"] for r in recs], "bodies": [r["body"] for r in recs],
                            "records": recs, "t": time.time(), "arn": context.invoked_function_arn}) + "\\n")
    try:
        first = json.loads(recs[0]["body"])
    except ValueError:
        first = {}
    if not isinstance(first, dict):
        first = {}
    if first.get("sleep"):
        time.sleep(first["sleep"])
    if first.get("fail"):
        raise RuntimeError("failing on purpose")
    if "reply_raw" in first:
        return first["reply_raw"]
    if "reply" in first:
        return first["reply"]
    if first.get("fail_ids"):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in recs if "bad" in r["body"]]}
    return None
'''


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def create_queue(sqs: Any, name: str, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30", **attributes})["QueueUrl"]
    return url


def create_consumer(lam: Any, name: str, record_path: Path, *, timeout_s: int = 10, **extra: Any) -> str:
    config = lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": python_zip(CONSUMER)}, Timeout=timeout_s,
        Environment={"Variables": {"RECORD_PATH": shared_file(record_path)}}, **extra)
    arn: str = config["FunctionArn"]
    return arn


def batches(path: Path) -> list[dict[str, Any]]:
    return records(path)


def delivered_bodies(path: Path) -> list[str]:
    return [b for batch in batches(path) for b in batch["bodies"]]


def wait_bodies(path: Path, expected: set[str], timeout_s: float = 60) -> list[dict[str, Any]]:
    wait_until(lambda: expected <= set(delivered_bodies(path)), timeout_s=timeout_s,
               what=f"deliveries of {sorted(expected)[:5]}...")
    return batches(path)


def wait_enabled(lam: Any, uuid_: str, state: str = "Enabled") -> dict[str, Any]:
    got: dict[str, Any] = wait_until(
        lambda: (m := lam.get_event_source_mapping(UUID=uuid_))["State"] == state and m, timeout_s=10,
        what=f"mapping {uuid_} {state}")
    return got


def send_many(sqs: Any, url: str, bodies: list[str]) -> None:
    for i in range(0, len(bodies), 10):
        chunk = bodies[i:i + 10]
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(chunk)])


def counts(sqs: Any, url: str) -> tuple[int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def body(value: Any) -> str:
    return json.dumps(value)
