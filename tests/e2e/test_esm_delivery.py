"""SQS event source mappings delivering to functions: batches, windows, outcomes, filters, switches.

One server for the module; every test has its own queue and function. Failure tests use a 2 s
visibility timeout (and functions with a 2 s timeout) so returned messages come back quickly.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.esm_support import (
    batches,
    body,
    counts,
    create_consumer,
    create_queue,
    delivered_bodies,
    queue_arn,
    send_many,
    unique,
    wait_bodies,
    wait_enabled,
)
from tests.support.server import module_client, module_server, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

server = module_server("esm-delivery")
lam = module_client("lambda")
sqs = module_client("sqs")


def setup(lam: Any, sqs: Any, tmp_path: Path, *, visibility_s: int = 30, timeout_s: int = 10,
          queue_attrs: dict[str, str] | None = None, **mapping: Any) -> tuple[str, str, Path, str]:
    """A queue, a consumer and an enabled mapping: (queue url, queue ARN, record path, mapping UUID)."""
    name = unique("esm")
    url = create_queue(sqs, name, VisibilityTimeout=str(visibility_s), **(queue_attrs or {}))
    path = tmp_path / f"{name}.jsonl"
    create_consumer(lam, name, path, timeout_s=timeout_s)
    created = lam.create_event_source_mapping(EventSourceArn=queue_arn(name), FunctionName=name, **mapping)
    wait_enabled(lam, created["UUID"], "Enabled" if mapping.get("Enabled", True) else "Disabled")
    return url, queue_arn(name), path, created["UUID"]


def test_record_shape_and_deletion(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, arn, path, _ = setup(lam, sqs, tmp_path)
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello world",
                            MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}})
    (batch,) = wait_bodies(path, {"hello world"})
    (record,) = batch["records"]
    assert list(record) == ["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                            "md5OfMessageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == "hello world"
    assert record["md5OfBody"] == hashlib.md5(b"hello world").hexdigest()
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["messageAttributes"] == {"color": {"stringValue": "red", "stringListValues": [],
                                                     "binaryListValues": [], "dataType": "String"}}
    attrs = record["attributes"]
    assert list(attrs) == ["ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"]
    assert attrs["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn and record["awsRegion"] == "us-east-1"
    wait_until(lambda: counts(sqs, url) == (0, 0), what="the batch deleted")


def test_no_attributes_md5_is_null(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, _ = setup(lam, sqs, tmp_path)
    sqs.send_message(QueueUrl=url, MessageBody="plain")
    (batch,) = wait_bodies(path, {"plain"})
    assert batch["records"][0]["md5OfMessageAttributes"] is None
    assert batch["records"][0]["messageAttributes"] == {}


def test_batch_size_caps_each_batch(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, uuid_ = setup(lam, sqs, tmp_path, BatchSize=3, Enabled=False)
    bodies = [f"m{i}" for i in range(10)]
    send_many(sqs, url, bodies)
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    got = wait_bodies(path, set(bodies))
    assert all(1 <= len(b["batch"]) <= 3 for b in got)
    assert any(len(b["batch"]) == 3 for b in got)  # queued before enabling: full batches are there to take


def test_window_gathers_into_one_batch(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, _ = setup(lam, sqs, tmp_path, BatchSize=100, MaximumBatchingWindowInSeconds=3)
    bodies = [f"w{i}" for i in range(15)]
    started = time.monotonic()
    send_many(sqs, url, bodies[:5])
    send_many(sqs, url, bodies[5:])
    got = wait_bodies(path, set(bodies))
    assert len(got) <= 2  # gathered by the window, not one invocation per receive
    assert max(len(b["batch"]) for b in got) >= 10  # more than one receive's worth in one batch
    assert time.monotonic() - started < 60


def test_function_error_returns_batch_then_redrives(lam: Any, sqs: Any, tmp_path: Path) -> None:
    dlq_name = unique("dlq")
    dlq_url = create_queue(sqs, dlq_name)
    policy = json.dumps({"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": 2})
    url, _, path, _ = setup(lam, sqs, tmp_path, visibility_s=2, timeout_s=2, queue_attrs={"RedrivePolicy": policy})
    sqs.send_message(QueueUrl=url, MessageBody=body({"fail": True, "n": 1}))
    moved = wait_until(lambda: sqs.receive_message(QueueUrl=dlq_url, AttributeNames=["All"]).get("Messages"),
                       timeout_s=60, what="the message in the DLQ")
    assert json.loads(moved[0]["Body"]) == {"fail": True, "n": 1}
    tries = batches(path)
    assert len(tries) == 2  # maxReceiveCount 2: two invocations, then the DLQ
    assert [t["records"][0]["attributes"]["ApproximateReceiveCount"] for t in tries] == ["1", "2"]


def test_partial_batch_failures_keep_only_reported(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, uuid_ = setup(lam, sqs, tmp_path, visibility_s=2, timeout_s=2, BatchSize=10,
                                FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=False)
    send_many(sqs, url, [body({"fail_ids": True}), "good-1", "bad-1", "good-2"])
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    wait_until(lambda: delivered_bodies(path).count("bad-1") >= 2, timeout_s=60, what="bad-1 redelivered")
    bodies = delivered_bodies(path)
    assert bodies.count("good-1") == 1 and bodies.count("good-2") == 1


MALFORMED = [
    pytest.param({"batchItemFailures": [{"itemIdentifier": ""}]}, id="empty-identifier"),
    pytest.param({"batchItemFailures": [{"itemIdentifier": None}]}, id="null-identifier"),
    pytest.param({"batchItemFailures": [{"foo": "x"}]}, id="other-key"),
    pytest.param({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, id="unknown-identifier"),
    pytest.param("ok", id="non-object"),
]  # invalid JSON cannot come from a Python handler: test_invalid_json_response_fails_whole_batch


@pytest.mark.parametrize("reply", MALFORMED)
def test_malformed_partial_response_fails_whole_batch(lam: Any, sqs: Any, tmp_path: Path, reply: Any) -> None:
    url, _, path, _ = setup(lam, sqs, tmp_path, visibility_s=2, timeout_s=2,
                            FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message(QueueUrl=url, MessageBody=body({"reply": reply}))
    wait_until(lambda: len(batches(path)) >= 2, timeout_s=60, what="the whole batch redelivered")
    assert batches(path)[1]["records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize("reply", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
                         ids=["null", "empty-object", "empty-list", "null-list"])
def test_all_done_responses_delete_the_batch(lam: Any, sqs: Any, tmp_path: Path, reply: Any) -> None:
    url, _, path, _ = setup(lam, sqs, tmp_path, FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message(QueueUrl=url, MessageBody=body({"reply": reply, "tag": "done"}))
    wait_until(lambda: batches(path), what="the delivery")
    wait_until(lambda: counts(sqs, url) == (0, 0), what="the batch deleted")


def test_filters_deliver_matches_and_delete_the_rest(lam: Any, sqs: Any, tmp_path: Path) -> None:
    patterns = [json.dumps({"body": {"kind": ["order"]}}), json.dumps({"body": [{"prefix": "text-"}]})]
    url, _, path, _ = setup(lam, sqs, tmp_path, FilterCriteria={"Filters": [{"Pattern": p} for p in patterns]})
    send_many(sqs, url, [body({"kind": "order", "n": 1}), body({"kind": "other"}), "text-ok", "nope"])
    wait_bodies(path, {body({"kind": "order", "n": 1}), "text-ok"})
    wait_until(lambda: counts(sqs, url) == (0, 0), what="unmatched messages deleted")
    assert sorted(delivered_bodies(path)) == sorted([body({"kind": "order", "n": 1}), "text-ok"])


def test_disable_stops_and_enable_resumes(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, uuid_ = setup(lam, sqs, tmp_path)
    sqs.send_message(QueueUrl=url, MessageBody="before")
    wait_bodies(path, {"before"})
    answer = lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
    assert answer["State"] == "Disabling"
    wait_enabled(lam, uuid_, "Disabled")
    sqs.send_message(QueueUrl=url, MessageBody="while-off")
    wait_until(lambda: counts(sqs, url) == (1, 0), what="the message waiting")
    time.sleep(1.5)  # a stretch with the mapping off: nothing may be delivered in it (not a synchronisation)
    assert "while-off" not in delivered_bodies(path)
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    wait_bodies(path, {"while-off"})


def test_update_batch_size_applies(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, uuid_ = setup(lam, sqs, tmp_path, BatchSize=1, Enabled=False)
    first = [f"a{i}" for i in range(4)]
    send_many(sqs, url, first)
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    got = wait_bodies(path, set(first))
    assert all(len(b["batch"]) == 1 for b in got)
    lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
    wait_enabled(lam, uuid_, "Disabled")
    second = [f"b{i}" for i in range(6)]
    send_many(sqs, url, second)
    updated = lam.update_event_source_mapping(UUID=uuid_, BatchSize=10, Enabled=True)
    assert updated["BatchSize"] == 10
    got = wait_bodies(path, set(second))
    assert any(len(b["batch"]) > 1 for b in got if b["bodies"][0].startswith("b"))


def test_delete_while_a_batch_runs(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, uuid_ = setup(lam, sqs, tmp_path, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody=body({"sleep": 3, "n": "slow"}))
    wait_until(lambda: batches(path), what="the slow batch started")
    deleted = lam.delete_event_source_mapping(UUID=uuid_)
    assert deleted["State"] == "Deleting"
    sqs.send_message(QueueUrl=url, MessageBody="after-delete")
    wait_until(lambda: counts(sqs, url) == (1, 0), timeout_s=30, what="the slow batch finished and deleted")
    time.sleep(1.5)  # a stretch after the delete: nothing more may be delivered (not a synchronisation)
    assert delivered_bodies(path) == [body({"sleep": 3, "n": "slow"})]


def test_maximum_concurrency_runs_batches_in_parallel(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, _, path, uuid_ = setup(lam, sqs, tmp_path, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2},
                                Enabled=False)
    send_many(sqs, url, [body({"sleep": 1.5, "n": i}) for i in range(6)])
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    wait_until(lambda: len(batches(path)) == 6, timeout_s=60, what="six batches")
    starts = sorted(b["t"] for b in batches(path))
    overlapping = max(sum(1 for s in starts if t <= s < t + 1.4) for t in starts)
    assert overlapping == 2  # two at a time: in parallel, never past MaximumConcurrency


def test_reserved_concurrency_caps_parallel_batches(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, arn, path, uuid_ = setup(lam, sqs, tmp_path, BatchSize=1, Enabled=False)
    lam.put_function_concurrency(FunctionName=arn.rsplit(":", 1)[1], ReservedConcurrentExecutions=1)
    send_many(sqs, url, [body({"sleep": 1, "n": i}) for i in range(3)])
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    wait_until(lambda: len(batches(path)) == 3, timeout_s=60, what="three batches")
    starts = sorted(b["t"] for b in batches(path))
    assert all(b - a >= 0.9 for a, b in zip(starts, starts[1:], strict=False))  # one at a time


# A custom runtime that answers every batch with text that is not JSON, and records each invocation.
NOT_JSON_BOOTSTRAP = """#!/bin/sh
set -eu
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "{\\"batch\\": true}" >> "$RECORD_PATH"
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d 'not json' > /dev/null
done
"""


def test_invalid_json_response_fails_whole_batch(lam: Any, sqs: Any, tmp_path: Path) -> None:
    from tests.e2e.async_support import ROLE
    from tests.support.server import shared_file
    from tests.support.zips import make_zip

    name = unique("notjson")
    url = create_queue(sqs, name, VisibilityTimeout="2")
    path = tmp_path / "calls.jsonl"
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="x.y", Timeout=2,
                        Code={"ZipFile": make_zip({"bootstrap": NOT_JSON_BOOTSTRAP}, modes={"bootstrap": 0o755})},
                        Environment={"Variables": {"RECORD_PATH": shared_file(path)}})
    lam.create_event_source_mapping(EventSourceArn=queue_arn(name), FunctionName=name,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message(QueueUrl=url, MessageBody="m")
    wait_until(lambda: len(batches(path)) >= 2, timeout_s=60, what="the whole batch redelivered")
    assert counts(sqs, url)[0] + counts(sqs, url)[1] == 1
