"""Recursive-loop detection end to end (contract section 10): a function that async-invokes itself
with boto3 is stopped after 16 invocations unless its RecursiveLoop is Allow.

The hop count travels as AWS's does: lambdalite gives the function a trace header with a Lineage count,
the runtime sets _X_AMZN_TRACE_ID, botocore copies it into the function's Invoke request.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_destinations_helpers import (
    FAST_ENV,
    create_function,
    create_queue,
    invoke_event,
    metric,
    queue_arn,
    receive_record,
    wait_metric_rise,
)
from tests.support.server import LambdaliteProcess, module_client, module_server, shared_file, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

server = module_server("recursion", env=FAST_ENV)
lam = module_client("lambda")
sqs = module_client("sqs")

# Invokes itself with n + 1 until n reaches `stop` (the bound for the Allow case).
SELF_INVOKING = """
import json, os
import boto3

def handler(event, context):
    n = event.get("n", 0)
    if n < event.get("stop", 20):
        boto3.client("lambda").invoke(FunctionName=context.function_name, InvocationType="Event",
                                      Payload=json.dumps({**event, "n": n + 1}))
    return {"n": n, "trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""

TRACE_ECHO = """
import os

def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""

LIMIT = 16


def _lineage_count(trace: str) -> int:
    field = next(f for f in trace.split(";") if f.startswith("Lineage="))
    return int(field.rpartition(":")[2])


def _records_until(sqs: Any, url: str, done: Any, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Receive (and delete) records until `done(records)`."""
    seen: list[dict[str, Any]] = []

    def poll() -> bool:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages") or []:
            seen.append(orjson.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bool(done(seen))

    wait_until(poll, timeout_s=timeout_s, interval_s=0.05, what=f"records on {url}")
    return seen


def test_self_invoking_loop_stops_after_16(server: LambdaliteProcess, lam: Any, sqs: Any) -> None:
    failures = create_queue(sqs, "loop-failures")
    successes = create_queue(sqs, "loop-successes")
    create_function(lam, "looper", SELF_INVOKING)
    lam.put_function_event_invoke_config(FunctionName="looper", DestinationConfig={
        "OnFailure": {"Destination": queue_arn("loop-failures")},
        "OnSuccess": {"Destination": queue_arn("loop-successes")}})
    before = metric(server, "RecursiveInvocationsDropped", "looper")

    invoke_event(lam, "looper", b'{"n": 0, "stop": 40}')

    record = receive_record(sqs, failures, timeout_s=90)
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"n": LIMIT, "stop": 40}
    assert "responseContext" not in record
    wait_metric_rise(server, "RecursiveInvocationsDropped", "looper", before)
    ran = _records_until(sqs, successes, lambda seen: len({r["requestPayload"]["n"] for r in seen}) >= LIMIT)
    by_n = {r["responsePayload"]["n"]: r["responsePayload"]["trace"] for r in ran}
    assert sorted(by_n) == list(range(LIMIT))
    assert all(_lineage_count(trace) == n + 1 for n, trace in by_n.items())


def test_allow_lets_the_loop_run_on(server: LambdaliteProcess, lam: Any, sqs: Any) -> None:
    successes = create_queue(sqs, "allowed-successes")
    create_function(lam, "allowed-looper", SELF_INVOKING)
    assert lam.put_function_recursion_config(FunctionName="allowed-looper", RecursiveLoop="Allow")[
        "RecursiveLoop"] == "Allow"
    lam.put_function_event_invoke_config(FunctionName="allowed-looper", DestinationConfig={
        "OnSuccess": {"Destination": queue_arn("allowed-successes")}})

    invoke_event(lam, "allowed-looper", b'{"n": 0, "stop": 20}')

    # Records may arrive in any order: wait for all 21 invocations' (n = 0..20).
    ran = _records_until(sqs, successes, lambda seen: len({r["requestPayload"]["n"] for r in seen}) >= 21)
    assert {r["requestPayload"]["n"] for r in ran} == set(range(21))
    assert metric(server, "RecursiveInvocationsDropped", "allowed-looper") == 0


def _client_with_trace(server: LambdaliteProcess, trace: str) -> Any:
    client = server.client("lambda")

    def add_header(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["X-Amzn-Trace-Id"] = trace

    client.meta.events.register("before-call.lambda.Invoke", add_header)
    return client


def test_sync_invoke_past_the_limit_is_refused(server: LambdaliteProcess, lam: Any) -> None:
    create_function(lam, "trace-echo", TRACE_ECHO)
    root = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    before = metric(server, "RecursiveInvocationsDropped", "trace-echo")

    under = _client_with_trace(server, f"{root};Lineage=a87bd80c:{LIMIT - 1}")
    trace = orjson.loads(under.invoke(FunctionName="trace-echo")["Payload"].read())["trace"]
    assert trace.startswith(root + ";") and _lineage_count(trace) == LIMIT

    over = _client_with_trace(server, f"{root};Lineage=1:a87bd80c:{LIMIT}")
    with pytest.raises(ClientError) as caught:
        over.invoke(FunctionName="trace-echo")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "RecursiveInvocationException"
    assert "recursive loop" in error["Error"]["Message"]
    assert metric(server, "RecursiveInvocationsDropped", "trace-echo") == before + 1

    lam.put_function_recursion_config(FunctionName="trace-echo", RecursiveLoop="Allow")
    trace = orjson.loads(over.invoke(FunctionName="trace-echo")["Payload"].read())["trace"]
    assert _lineage_count(trace) == LIMIT + 1


PING_PONG = """
import os

def handler(event, context):
    with open(os.environ["RAN_LOG"], "a") as f:
        f.write(context.function_name + "\\n")
    return {"from": context.function_name}
"""


def test_a_loop_through_lambda_destinations_is_stopped_too(server: LambdaliteProcess, lam: Any, tmp_path: Any) -> None:
    """ping's OnSuccess is pong and pong's is ping: the records carry the chain's Lineage count."""
    ran = tmp_path / "ran.log"
    env = {"Variables": {"RAN_LOG": shared_file(ran)}}
    create_function(lam, "ping", PING_PONG, Environment=env)
    create_function(lam, "pong", PING_PONG, Environment=env)
    for source, target in (("ping", "pong"), ("pong", "ping")):
        lam.put_function_event_invoke_config(FunctionName=source, DestinationConfig={
            "OnSuccess": {"Destination": f"arn:aws:lambda:us-east-1:000000000000:function:{target}"}})
    before = metric(server, "RecursiveInvocationsDropped", "ping") + metric(server, "RecursiveInvocationsDropped", "pong")
    invoke_event(lam, "ping", b"{}")

    def dropped() -> bool:
        now = metric(server, "RecursiveInvocationsDropped", "ping") + metric(server, "RecursiveInvocationsDropped", "pong")
        return now > before

    wait_until(dropped, timeout_s=60, what="the ping-pong loop to be stopped")
    runs = ran.read_text().split()
    assert len(runs) == LIMIT and runs[:2] == ["ping", "pong"], runs


EVENTS_LOOP = """
import json, os
import boto3

def handler(event, context):
    with open(os.environ["RAN_LOG"], "a") as f:
        f.write(context.function_name + "\\n")
    boto3.client("events").put_events(Entries=[{"Source": "loop.test", "DetailType": "again", "Detail": "{}"}])
    return {}
"""


def test_a_loop_through_eventbridge_is_stopped_too(server: LambdaliteProcess, lam: Any, tmp_path: Any) -> None:
    """A function that puts an event its own rule routes back to it: the PutEvents call's trace header
    travels with the target job, so the chain's Lineage grows and the loop stops after 16."""
    ran = tmp_path / "ran.log"
    create_function(lam, "bouncer", EVENTS_LOOP, Environment={"Variables": {"RAN_LOG": shared_file(ran)}})
    events = server.client("events")
    events.put_rule(Name="bounce", EventPattern='{"source": ["loop.test"]}')
    events.put_targets(Rule="bounce", Targets=[
        {"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:bouncer"}])
    before = metric(server, "RecursiveInvocationsDropped", "bouncer")
    invoke_event(lam, "bouncer", b"{}")
    wait_metric_rise(server, "RecursiveInvocationsDropped", "bouncer", before)
    assert len(ran.read_text().split()) == LIMIT
