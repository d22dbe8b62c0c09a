"""Shared pieces of the destination and dead-letter e2e tests (no tests here; real server, boto3 clients)."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import orjson

from tests.support.server import LambdaliteProcess, wait_until
from tests.support.zips import python_zip

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# Fast retries and deliveries, so every test module stays within seconds.
FAST_ENV = {
    "LAMBDA_RETRY_BASE_DELAY": "0.2",
    "LAMBDALITE_DELIVERY_RETRY_BASE_DELAY": "0.1",
    "LAMBDALITE_DELIVERY_ATTEMPTS": "3",
}

ECHO = """
def handler(event, context):
    return {"echo": event, "requestId": context.aws_request_id}
"""

FAILING = """
def handler(event, context):
    raise ValueError("boom: " + str(event.get("n")))
"""


def function_arn(name: str, qualifier: str | None = "$LATEST") -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def create_function(lam: Any, name: str, source: str, **extra: Any) -> str:
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": python_zip(source)}, Timeout=10, **extra,
    )
    return name


def create_queue(sqs: Any, name: str) -> str:
    """Returns the queue URL."""
    return str(sqs.create_queue(QueueName=name)["QueueUrl"])


def invoke_event(lam: Any, name: str, payload: bytes) -> str:
    """An Event invoke; returns the 202's request id."""
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    assert response["StatusCode"] == 202
    return str(response["ResponseMetadata"]["RequestId"])


def receive_one(sqs: Any, url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """Wait for one message on a queue, delete it, return it (body, attributes)."""

    def poll() -> dict[str, Any] | None:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"])
        messages = got.get("Messages") or []
        return messages[0] if messages else None

    message: dict[str, Any] = wait_until(poll, timeout_s=timeout_s, interval_s=0.05, what=f"a message on {url}")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return message


def receive_record(sqs: Any, url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(receive_one(sqs, url, timeout_s)["Body"])
    return record


def metric(server: LambdaliteProcess, name: str, function: str) -> float:
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(rf'^lambda_{name}_total\{{function_name="{re.escape(function)}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def wait_metric_rise(server: LambdaliteProcess, name: str, function: str, before: float) -> None:
    """Poll /metrics until `name` for `function` is one above `before`."""
    wait_until(lambda: metric(server, name, function) == before + 1, timeout_s=30,
               what=f"{name} for {function}")


def assert_record_shape(record: dict[str, Any], *, request_id: str, function: str, condition: str,
                        count: int) -> None:
    assert record["version"] == "1.0"
    assert TIMESTAMP.fullmatch(record["timestamp"]), record["timestamp"]
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": function_arn(function), "condition": condition,
        "approximateInvokeCount": count,
    }
