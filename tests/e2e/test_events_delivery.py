"""EventBridge routing end to end: boto3 `events` puts events, boto3 `sqs` receives what rules delivered,
a real Lambda function records what it was invoked with; rules, targets and buses survive a restart.

One server for the module (short retry delays); each test uses its own queue, rules and source.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.async_support import create_recorder, records
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

ENV = {"LAMBDA_RETRY_BASE_DELAY": "1", "LAMBDALITE_THROTTLE_BASE_DELAY": "0.2", "LAMBDALITE_LEASE_SECONDS": "2"}
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


srv = module_server("events-delivery", env=ENV)
ev = module_client("events", server="srv")
sqs = module_client("sqs", server="srv")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(sqs: Any, url: str, expected: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Receive (and delete) until `expected` bodies arrived; then one more short poll for strays."""
    bodies: list[dict[str, Any]] = []

    def poll(wait_s: int) -> bool:
        """Receive and delete what arrived; False, so that the caller's condition reads the count."""
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s).get("Messages", [])
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return False

    wait_until(lambda: poll(1) or len(bodies) >= expected, timeout_s=timeout_s, what=f"{expected} messages")
    poll(1)
    return bodies


def put(ev: Any, source: str, detail: dict[str, Any], **extra: Any) -> str:
    result = ev.put_events(Entries=[{"Source": source, "DetailType": "test", "Detail": json.dumps(detail), **extra}])
    assert result["FailedEntryCount"] == 0, result
    return str(result["Entries"][0]["EventId"])


def rule_to_queue(ev: Any, pattern: dict[str, Any], queue_arn: str, **extra: Any) -> str:
    name = unique("rule")
    ev.put_rule(Name=name, EventPattern=json.dumps(pattern), **{k: v for k, v in extra.items() if k != "target"})
    ev.put_targets(Rule=name, EventBusName=extra.get("EventBusName", "default"),
                   Targets=[{"Id": "q", "Arn": queue_arn, **extra.get("target", {})}])
    return name


def test_matching_event_is_delivered_to_sqs_as_the_envelope(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    source = unique("my.app")
    rule_to_queue(ev, {"source": [source]}, arn)
    event_id = put(ev, source, {"order": 7, "items": ["a"]}, Resources=["arn:aws:s3:::bucket"], Time=1704067200)
    (body,) = receive_all(sqs, url, 1)
    assert set(body) == ENVELOPE_KEYS
    assert body == {
        "version": "0",
        "id": event_id,
        "detail-type": "test",
        "source": source,
        "account": "000000000000",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::bucket"],
        "detail": {"order": 7, "items": ["a"]},
    }


def test_non_matching_events_are_not_delivered(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    source = unique("filter")
    rule_to_queue(ev, {"source": [source], "detail": {"n": [{"numeric": [">", 10]}]}}, arn)
    result = ev.put_events(Entries=[
        {"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 5, "tag": "small"})},
        {"Source": "someone.else", "DetailType": "t", "Detail": json.dumps({"n": 50, "tag": "other"})},
        {"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 50, "tag": "big"})},
    ])
    assert result["FailedEntryCount"] == 0
    bodies = receive_all(sqs, url, 1)
    assert [b["detail"]["tag"] for b in bodies] == ["big"]


def test_disabled_rules_do_not_deliver(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    source = unique("dis")
    disabled = rule_to_queue(ev, {"source": [source], "detail-type": ["off"]}, arn)
    ev.disable_rule(Name=disabled)
    rule_to_queue(ev, {"source": [source], "detail-type": ["marker"]}, arn)
    ev.put_events(Entries=[
        {"Source": source, "DetailType": "off", "Detail": "{}"},
        {"Source": source, "DetailType": "marker", "Detail": "{}"},
    ])
    assert [b["detail-type"] for b in receive_all(sqs, url, 1)] == ["marker"]
    ev.enable_rule(Name=disabled)
    put_id = ev.put_events(Entries=[{"Source": source, "DetailType": "off", "Detail": "{}"}])["Entries"][0]["EventId"]
    assert [b["id"] for b in receive_all(sqs, url, 1)] == [put_id]


def test_rules_with_state_disabled_at_creation_do_not_deliver(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    source = unique("cd")
    rule_to_queue(ev, {"source": [source], "detail-type": ["off"]}, arn, State="DISABLED")
    rule_to_queue(ev, {"source": [source], "detail-type": ["marker"]}, arn)
    ev.put_events(Entries=[
        {"Source": source, "DetailType": "off", "Detail": "{}"},
        {"Source": source, "DetailType": "marker", "Detail": "{}"},
    ])
    assert [b["detail-type"] for b in receive_all(sqs, url, 1)] == ["marker"]


def test_custom_bus_routes_only_its_own_rules(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    bus = unique("bus")
    ev.create_event_bus(Name=bus)
    source = unique("cb")
    rule_to_queue(ev, {"source": [source]}, arn, EventBusName=bus)
    put(ev, source, {"where": "default"})
    put(ev, source, {"where": "custom"}, EventBusName=bus)
    assert [b["detail"]["where"] for b in receive_all(sqs, url, 1)] == ["custom"]


def test_two_rules_one_event_two_deliveries(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    source = unique("two")
    rule_to_queue(ev, {"source": [source]}, arn)
    rule_to_queue(ev, {"detail": {"k": [{"prefix": "v"}]}, "source": [source]}, arn)
    event_id = put(ev, source, {"k": "value"})
    bodies = receive_all(sqs, url, 2)
    assert [b["id"] for b in bodies] == [event_id, event_id]


def test_input_inputpath_and_transformer(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    source = unique("in")
    rule_to_queue(ev, {"source": [source], "detail-type": ["const"]}, arn, target={"Input": '{"fixed": 1}'})
    rule_to_queue(ev, {"source": [source], "detail-type": ["path"]}, arn, target={"InputPath": "$.detail.inner"})
    transformer = {"InputPathsMap": {"n": "$.detail.n", "src": "$.source"},
                   "InputTemplate": '{"count": <n>, "from": "<src>"}'}
    rule_to_queue(ev, {"source": [source], "detail-type": ["tx"]}, arn, target={"InputTransformer": transformer})
    detail = json.dumps({"inner": {"deep": True}, "n": 4})
    ev.put_events(Entries=[{"Source": source, "DetailType": t, "Detail": detail} for t in ("const", "path", "tx")])
    bodies = receive_all(sqs, url, 3)
    assert sorted(bodies, key=json.dumps) == sorted(
        [{"fixed": 1}, {"deep": True}, {"count": 4, "from": source}], key=json.dumps)


def test_an_undeliverable_event_goes_to_the_targets_dead_letter_queue(ev: Any, sqs: Any) -> None:
    """A target queue that does not exist: no retries, the event lands in the DLQ with AWS's attributes."""
    dlq_url, dlq_arn = make_queue(sqs)
    source = unique("dlq.app")
    missing = "arn:aws:sqs:us-east-1:000000000000:" + unique("missing")
    rule = rule_to_queue(ev, {"source": [source]}, missing, target={"DeadLetterConfig": {"Arn": dlq_arn},
                                                                   "RetryPolicy": {"MaximumRetryAttempts": 3}})
    event_id = put(ev, source, {"n": 1})
    got: list[dict[str, Any]] = []

    def arrived() -> bool:
        got.extend(sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"],
                                       WaitTimeSeconds=1).get("Messages", []))
        return bool(got)

    wait_until(arrived, timeout_s=30, what="the dead-letter message")
    [message] = got
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {name: a["StringValue"] for name, a in message["MessageAttributes"].items()}
    rule_arn = ev.describe_rule(Name=rule)["Arn"]
    assert attributes == {"RULE_ARN": rule_arn, "TARGET_ARN": missing, "ERROR_CODE": "NO_RESOURCE",
                          "ERROR_MESSAGE": "The specified queue does not exist.", "RETRY_ATTEMPTS": "0"}


def test_event_bus_target_forwards_to_another_bus(ev: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    bus = unique("fwd")
    bus_arn = ev.create_event_bus(Name=bus)["EventBusArn"]
    source = unique("fw")
    name = unique("rule")
    ev.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    ev.put_targets(Rule=name, Targets=[{"Id": "bus", "Arn": bus_arn}])
    rule_to_queue(ev, {"source": [source]}, arn, EventBusName=bus)
    put(ev, source, {"hop": 1})
    (body,) = receive_all(sqs, url, 1)
    assert body["detail"] == {"hop": 1} and body["source"] == source


def test_lambda_target_is_invoked_asynchronously_with_the_event(ev: Any, srv: LambdaliteProcess,
                                                                 tmp_path: Path) -> None:
    lam = srv.client("lambda")
    function = unique("evfn")
    record_path = tmp_path / "records.jsonl"
    function_arn = create_recorder(lam, function, record_path)["FunctionArn"]
    source = unique("lam")
    rule = unique("rule")
    ev.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function_arn}])
    event_id = put(ev, source, {"to": "lambda"})
    (seen,) = wait_until(lambda: records(record_path), timeout_s=60, what="the function's invocation")
    assert seen["event"]["id"] == event_id
    assert seen["event"]["detail"] == {"to": "lambda"}
    assert set(seen["event"]) == ENVELOPE_KEYS


def test_buses_rules_and_targets_survive_a_restart(start_server: Any) -> None:
    proc = start_server(env=ENV)
    ev, sqs = proc.client("events"), proc.client("sqs")
    url, arn = make_queue(sqs)
    ev.create_event_bus(Name="kept")
    ev.put_rule(Name="kept-rule", EventBusName="kept", EventPattern='{"source": ["kept.app"]}', Description="d")
    ev.put_targets(Rule="kept-rule", EventBusName="kept", Targets=[{"Id": "q", "Arn": arn}])
    proc.kill()
    proc.start()
    ev, sqs = proc.client("events"), proc.client("sqs")
    assert ev.describe_event_bus(Name="kept")["Name"] == "kept"
    rule = ev.describe_rule(Name="kept-rule", EventBusName="kept")
    assert rule["Description"] == "d" and rule["State"] == "ENABLED"
    assert ev.list_targets_by_rule(Rule="kept-rule", EventBusName="kept")["Targets"] == [{"Id": "q", "Arn": arn}]
    put(ev, "kept.app", {"after": "restart"}, EventBusName="kept")
    assert [b["detail"] for b in receive_all(sqs, url, 1)] == [{"after": "restart"}]


def test_accepted_events_are_delivered_after_a_crash(tmp_path: Path) -> None:
    """Jobs are committed before PutEvents answers: an API-only server (no delivery loop) accepts an event,
    is killed with SIGKILL, and a full server on the same data folder delivers it, once."""
    data_dir = tmp_path / "crash-data"
    api_only = LambdaliteProcess(data_dir, env=ENV, args=["--no-dispatch"]).start()
    try:
        ev, sqs = api_only.client("events"), api_only.client("sqs")
        url, arn = make_queue(sqs)
        rule_to_queue(ev, {"source": ["crash.app"]}, arn)
        event_id = put(ev, "crash.app", {"n": 1})
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    finally:
        api_only.kill()
    full = LambdaliteProcess(data_dir, env=ENV).start()
    try:
        bodies = receive_all(full.client("sqs"), url, 1)
        assert [b["id"] for b in bodies] == [event_id]
    finally:
        full.kill()
