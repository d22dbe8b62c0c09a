"""Pure pieces of the EventBridge service: entry validation, event time, input paths, target payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from lambdalite.destinations.rule_targets import target_payload
from lambdalite.jsonpath import select, valid_json_path
from lambdalite.node import Node
from lambdalite.services.events_put import build_event, iso_time
from lambdalite.settings import Settings

EVENT: dict[str, Any] = {"version": "0", "id": "e1", "detail-type": "t", "source": "s", "account": "0",
                         "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": ["r1"],
                         "detail": {"n": 4, "list": [{"k": "a"}, {"k": "b"}], "name": "x"}}
JOB = {"rule": "my-rule", "rule_arn": "arn:aws:events:us-east-1:0:rule/my-rule"}


def node() -> Node:
    return Node(settings=Settings(data_dir=Path("/nonexistent")), store=None, pool=None)  # type: ignore[arg-type]


def test_iso_time_accepts_botocore_epoch_iso_and_datetime() -> None:
    assert iso_time(1704067200) == "2024-01-01T00:00:00Z"
    assert iso_time(1704067200.9) == "2024-01-01T00:00:00Z"
    assert iso_time("2024-01-01T01:00:00+01:00") == "2024-01-01T00:00:00Z"
    assert iso_time("2024-01-01T00:00:00Z") == "2024-01-01T00:00:00Z"
    assert iso_time(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00Z"
    assert iso_time("yesterday") is None
    assert iso_time(True) is None
    assert iso_time(None) is not None


def test_build_event_envelope() -> None:
    event, error = build_event(node(), "eu-west-1", {"Source": "a", "DetailType": "b", "Detail": '{"x": [1]}',
                                                     "Resources": ["r"], "Time": 0})
    assert error is None and event is not None
    assert event["time"] == "1970-01-01T00:00:00Z" and event["region"] == "eu-west-1"
    assert event["account"] == "000000000000" and event["version"] == "0"
    assert event["detail"] == {"x": [1]} and event["resources"] == ["r"]
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"]


def test_build_event_errors_in_aws_order() -> None:
    def code(entry: Any) -> str:
        event, error = build_event(node(), "us-east-1", entry)
        assert event is None and error is not None
        return f"{error['ErrorCode']}: {error['ErrorMessage']}"

    assert code({}) == "InvalidArgument: Parameter Source is not valid. Reason: Source is a required argument."
    assert code({"Source": "a"}).endswith("DetailType is a required argument.")
    assert code({"Source": "a", "DetailType": "b"}).endswith("Detail is a required argument.")
    assert code({"Source": "a", "DetailType": "b", "Detail": "[1]"}) == "MalformedDetail: Detail is malformed."
    assert code({"Source": "a", "DetailType": "b", "Detail": "{"}) == "MalformedDetail: Detail is malformed."
    assert code("entry").startswith("InvalidArgument")


def test_json_paths() -> None:
    assert valid_json_path("$") and valid_json_path("$.detail.list[1].k")
    assert not valid_json_path("detail") and not valid_json_path("$..x") and not valid_json_path("$.a[")
    assert select(EVENT, "$") == EVENT
    assert select(EVENT, "$.detail.n") == 4
    assert select(EVENT, "$.detail.list[1].k") == "b"
    assert select(EVENT, "$.detail.list[5]") is not None  # the missing marker, not a value
    assert target_payload({"InputPath": "$.detail.nope"}, EVENT, JOB) == b"null"


def test_target_payloads() -> None:
    assert orjson.loads(target_payload({}, EVENT, JOB)) == EVENT
    assert target_payload({"Input": '{"a": 1}'}, EVENT, JOB) == b'{"a": 1}'
    assert orjson.loads(target_payload({"InputPath": "$.detail.list"}, EVENT, JOB)) == EVENT["detail"]["list"]


def test_input_transformer() -> None:
    transformer = {"InputPathsMap": {"n": "$.detail.n", "name": "$.detail.name", "obj": "$.detail.list[0]",
                                     "gone": "$.detail.gone"},
                   "InputTemplate": '{"n": <n>, "msg": "hello <name>", "obj": <obj>, "rule": "<aws.events.rule-name>"}'}
    out = orjson.loads(target_payload({"InputTransformer": transformer}, EVENT, JOB))
    assert out == {"n": 4, "msg": "hello x", "obj": {"k": "a"}, "rule": "my-rule"}
    text = {"InputPathsMap": {"name": "$.detail.name"}, "InputTemplate": "<name> is <unknown>"}
    assert target_payload({"InputTransformer": text}, EVENT, JOB) == b"x is <unknown>"
    whole = {"InputTemplate": '{"e": <aws.events.event>}'}
    assert orjson.loads(target_payload({"InputTransformer": whole}, EVENT, JOB)) == {"e": EVENT}
