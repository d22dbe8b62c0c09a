"""The EventBridge API with boto3's own `events` client: buses, rules, targets, PutEvents validation,
TestEventPattern, and every operation's error path. One server for the module; names are unique per test.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import LambdaliteProcess, module_client, module_server

QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:some-queue"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:some-function"
EVENT = {"id": "1", "account": "123456789012", "source": "my.app", "time": "2024-01-01T00:00:00Z",
         "region": "us-east-1", "detail-type": "thing", "resources": [], "detail": {"n": 3}}


srv = module_server("events-api")
ev = module_client("events", server="srv")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


# ---- buses ----------------------------------------------------------------------------------------


def test_default_bus_always_exists(ev: Any) -> None:
    bus = ev.describe_event_bus()
    assert bus["Name"] == "default"
    assert bus["Arn"] == "arn:aws:events:us-east-1:000000000000:event-bus/default"
    assert ev.describe_event_bus(Name="default")["Arn"] == bus["Arn"]
    assert "default" in [b["Name"] for b in ev.list_event_buses()["EventBuses"]]
    assert ev.list_rules()["Rules"] is not None


def test_bus_lifecycle(ev: Any) -> None:
    name = unique("bus")
    created = ev.create_event_bus(Name=name, Description="orders")
    assert created["EventBusArn"] == f"arn:aws:events:us-east-1:000000000000:event-bus/{name}"
    described = ev.describe_event_bus(Name=created["EventBusArn"])
    assert described["Name"] == name and described["Description"] == "orders"
    assert "CreationTime" in described
    listed = ev.list_event_buses(NamePrefix=name)["EventBuses"]
    assert [b["Name"] for b in listed] == [name]
    assert error_of(ev.create_event_bus, Name=name) == (
        "ResourceAlreadyExistsException", f"Event bus {name} already exists.", 400)
    ev.delete_event_bus(Name=name)
    assert error_of(ev.describe_event_bus, Name=name) == (
        "ResourceNotFoundException", f"Event bus {name} does not exist.", 400)
    ev.delete_event_bus(Name=name)  # deleting again is not an error, as in AWS


def test_bus_errors(ev: Any) -> None:
    code, message, status = error_of(ev.delete_event_bus, Name="default")
    assert (code, status) == ("ValidationException", 400) and "default" in message
    assert error_of(ev.create_event_bus, Name="default")[0] == "ResourceAlreadyExistsException"
    code, message, _ = error_of(ev.create_event_bus, Name="bad name!")
    assert code == "ValidationException" and "regular expression" in message
    name = unique("busr")
    ev.create_event_bus(Name=name)
    ev.put_rule(Name="r", EventBusName=name, EventPattern='{"source": ["x"]}')
    assert error_of(ev.delete_event_bus, Name=name) == (
        "ValidationException", "EventBus can't be deleted since it has rules.", 400)
    ev.delete_rule(Name="r", EventBusName=name)
    ev.delete_event_bus(Name=name)


def test_list_event_buses_pages(ev: Any) -> None:
    prefix = unique("page")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for name in names:
        ev.create_event_bus(Name=name)
    first = ev.list_event_buses(NamePrefix=prefix, Limit=2)
    assert [b["Name"] for b in first["EventBuses"]] == names[:2]
    second = ev.list_event_buses(NamePrefix=prefix, Limit=2, NextToken=first["NextToken"])
    third = ev.list_event_buses(NamePrefix=prefix, Limit=2, NextToken=second["NextToken"])
    assert [b["Name"] for b in second["EventBuses"] + third["EventBuses"]] == names[2:]
    assert "NextToken" not in third


# ---- rules ----------------------------------------------------------------------------------------


def test_rule_lifecycle(ev: Any) -> None:
    name = unique("rule")
    pattern = json.dumps({"source": ["my.app"]})
    arn = ev.put_rule(Name=name, EventPattern=pattern, Description="mine")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    rule = ev.describe_rule(Name=name)
    assert rule["EventPattern"] == pattern and rule["State"] == "ENABLED" and rule["Description"] == "mine"
    assert rule["EventBusName"] == "default" and rule["Arn"] == arn
    ev.disable_rule(Name=name)
    assert ev.describe_rule(Name=name)["State"] == "DISABLED"
    ev.enable_rule(Name=name)
    assert ev.describe_rule(Name=name)["State"] == "ENABLED"
    # PutRule again updates the rule in place.
    ev.put_rule(Name=name, EventPattern='{"source": ["other"]}', State="DISABLED")
    assert ev.describe_rule(Name=name)["EventPattern"] == '{"source": ["other"]}'
    assert ev.describe_rule(Name=name)["State"] == "DISABLED"
    ev.delete_rule(Name=name)
    assert error_of(ev.describe_rule, Name=name)[0] == "ResourceNotFoundException"
    ev.delete_rule(Name=name)  # already gone: not an error


def test_rules_on_a_custom_bus(ev: Any) -> None:
    bus = unique("rbus")
    bus_arn = ev.create_event_bus(Name=bus)["EventBusArn"]
    arn = ev.put_rule(Name="r1", EventBusName=bus_arn, EventPattern='{"source": ["a"]}')["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:rule/{bus}/r1"
    assert ev.describe_rule(Name="r1", EventBusName=bus)["EventBusName"] == bus
    assert error_of(ev.describe_rule, Name="r1")[0] == "ResourceNotFoundException"
    assert [r["Name"] for r in ev.list_rules(EventBusName=bus)["Rules"]] == ["r1"]


def test_list_rules_prefix_and_paging(ev: Any) -> None:
    prefix = unique("lr")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for name in names:
        ev.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    page = ev.list_rules(NamePrefix=prefix, Limit=3)
    assert [r["Name"] for r in page["Rules"]] == names[:3]
    rest = ev.list_rules(NamePrefix=prefix, Limit=3, NextToken=page["NextToken"])
    assert [r["Name"] for r in rest["Rules"]] == names[3:]
    assert "NextToken" not in rest
    assert all(r["EventBusName"] == "default" for r in page["Rules"])
    pages = ev.get_paginator("list_rules").paginate(NamePrefix=prefix, PaginationConfig={"PageSize": 2})
    assert [r["Name"] for page in pages for r in page["Rules"]] == names


def test_rule_errors(ev: Any) -> None:
    code, message, status = error_of(ev.put_rule, Name="bad", EventPattern='{"source": "x"}')
    assert (code, status) == ("InvalidEventPatternException", 400)
    assert message == 'Event pattern is not valid. Reason: "source" must be an object or an array'
    assert error_of(ev.put_rule, Name="bad", EventPattern="not json")[0] == "InvalidEventPatternException"
    assert error_of(ev.put_rule, Name="bad")[0] == "ValidationException"
    assert error_of(ev.put_rule, Name="sched", ScheduleExpression="rate(5 minute)") == (
        "ValidationException", "Parameter ScheduleExpression is not valid.", 400)
    assert error_of(ev.put_rule, Name="x", EventPattern='{"a": [1]}', EventBusName="no-such-bus") == (
        "ResourceNotFoundException", "Event bus no-such-bus does not exist.", 400)
    assert error_of(ev.put_rule, Name="bad name", EventPattern='{"a": [1]}')[0] == "ValidationException"
    assert error_of(ev.put_rule, Name="x", EventPattern='{"a": [1]}', State="ON")[0] == "ValidationException"
    assert error_of(ev.describe_rule, Name="missing") == (
        "ResourceNotFoundException", "Rule missing does not exist on EventBus default.", 400)
    assert error_of(ev.enable_rule, Name="missing")[0] == "ResourceNotFoundException"
    assert error_of(ev.disable_rule, Name="missing")[0] == "ResourceNotFoundException"
    assert error_of(ev.list_rules, EventBusName="no-such-bus")[0] == "ResourceNotFoundException"


# ---- targets --------------------------------------------------------------------------------------


def test_targets_lifecycle_and_delete_rule_refused_while_targets_exist(ev: Any) -> None:
    rule = unique("tr")
    ev.put_rule(Name=rule, EventPattern='{"source": ["x"]}')
    result = ev.put_targets(Rule=rule, Targets=[
        {"Id": "q", "Arn": QUEUE_ARN},
        {"Id": "f", "Arn": FUNCTION_ARN, "Input": '{"fixed": true}'},
    ])
    assert result["FailedEntryCount"] == 0 and result["FailedEntries"] == []
    targets = ev.list_targets_by_rule(Rule=rule)["Targets"]
    assert targets == [{"Id": "q", "Arn": QUEUE_ARN}, {"Id": "f", "Arn": FUNCTION_ARN, "Input": '{"fixed": true}'}]
    code, message, status = error_of(ev.delete_rule, Name=rule)
    assert (code, message, status) == ("ValidationException", "Rule can't be deleted since it has targets.", 400)
    # Same Id replaces the target.
    ev.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": QUEUE_ARN + "-2"}])
    assert ev.list_targets_by_rule(Rule=rule)["Targets"][0]["Arn"] == QUEUE_ARN + "-2"
    page = ev.list_targets_by_rule(Rule=rule, Limit=1)
    assert len(page["Targets"]) == 1
    assert len(ev.list_targets_by_rule(Rule=rule, Limit=1, NextToken=page["NextToken"])["Targets"]) == 1
    removed = ev.remove_targets(Rule=rule, Ids=["q", "f"])
    assert removed["FailedEntryCount"] == 0
    assert ev.list_targets_by_rule(Rule=rule)["Targets"] == []
    ev.delete_rule(Name=rule)


def test_list_rule_names_by_target_pages_and_errors(ev: Any) -> None:
    target_arn = f"arn:aws:sqs:us-east-1:000000000000:{unique('q')}"
    names = sorted(unique("by-target") for _ in range(3))
    for name in names:
        ev.put_rule(Name=name, EventPattern=json.dumps({"source": ["by.target"]}))
        ev.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": target_arn}])
    first = ev.list_rule_names_by_target(TargetArn=target_arn, Limit=2)
    assert first["RuleNames"] == names[:2] and "NextToken" in first
    rest = ev.list_rule_names_by_target(TargetArn=target_arn, Limit=2, NextToken=first["NextToken"])
    assert rest["RuleNames"] == names[2:] and "NextToken" not in rest
    assert ev.list_rule_names_by_target(TargetArn=target_arn + "-none")["RuleNames"] == []
    code, message, status = error_of(ev.list_rule_names_by_target, TargetArn=target_arn, EventBusName="nope")
    assert (code, status) == ("ResourceNotFoundException", 400) and message == "Event bus nope does not exist."


def test_put_targets_per_entry_failures_and_limits(ev: Any) -> None:
    rule = unique("tf")
    ev.put_rule(Name=rule, EventPattern='{"source": ["x"]}')
    result = ev.put_targets(Rule=rule, Targets=[
        {"Id": "ok", "Arn": QUEUE_ARN},
        {"Id": "sns", "Arn": "arn:aws:sns:us-east-1:000000000000:topic"},
    ])
    assert result["FailedEntryCount"] == 1
    (failed,) = result["FailedEntries"]
    assert failed["TargetId"] == "sns" and failed["ErrorCode"] and failed["ErrorMessage"]
    assert [t["Id"] for t in ev.list_targets_by_rule(Rule=rule)["Targets"]] == ["ok"]
    many = [{"Id": f"t{i}", "Arn": QUEUE_ARN} for i in range(5)]
    assert error_of(ev.put_targets, Rule=rule, Targets=many)[0] == "LimitExceededException"
    assert error_of(ev.put_targets, Rule="missing", Targets=[{"Id": "a", "Arn": QUEUE_ARN}]) == (
        "ResourceNotFoundException", "Rule missing does not exist on EventBus default.", 400)
    assert error_of(ev.put_targets, Rule=rule, Targets=[{"Id": "a", "Arn": "not-an-arn"}])[0] == "ValidationException"
    assert error_of(ev.put_targets, Rule=rule, Targets=[{"Id": "a b", "Arn": QUEUE_ARN}])[0] == "ValidationException"
    bad_input = [{"Id": "a", "Arn": QUEUE_ARN, "Input": "{not json"}]
    assert error_of(ev.put_targets, Rule=rule, Targets=bad_input)[0] == "ValidationException"
    assert error_of(ev.remove_targets, Rule="missing", Ids=["a"])[0] == "ResourceNotFoundException"
    assert error_of(ev.list_targets_by_rule, Rule="missing")[0] == "ResourceNotFoundException"


# ---- PutEvents ------------------------------------------------------------------------------------


def test_put_events_per_entry_results(ev: Any) -> None:
    result = ev.put_events(Entries=[
        {"Source": "my.app", "DetailType": "thing", "Detail": '{"a": 1}'},
        {"DetailType": "thing", "Detail": "{}"},
        {"Source": "my.app", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "thing"},
        {"Source": "my.app", "DetailType": "thing", "Detail": "{not json"},
        {"Source": "my.app", "DetailType": "thing", "Detail": "{}", "EventBusName": "no-such-bus"},
    ])
    entries = result["Entries"]
    assert result["FailedEntryCount"] == 5
    assert len(entries) == 6
    assert uuid.UUID(entries[0]["EventId"])
    assert entries[1] == {"ErrorCode": "InvalidArgument",
                          "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert entries[2]["ErrorCode"] == "InvalidArgument" and "DetailType" in entries[2]["ErrorMessage"]
    assert entries[3]["ErrorCode"] == "InvalidArgument" and "Detail " in entries[3]["ErrorMessage"]
    assert entries[4] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert entries[5]["ErrorCode"] == "ResourceNotFoundException"


def test_put_events_request_errors(ev: Any) -> None:
    eleven = [{"Source": "a", "DetailType": "b", "Detail": "{}"}] * 11
    assert error_of(ev.put_events, Entries=eleven)[0] == "ValidationException"
    huge = [{"Source": "a", "DetailType": "b", "Detail": json.dumps({"x": "y" * 300_000})}]
    assert error_of(ev.put_events, Entries=huge)[0] == "ValidationException"


def test_put_events_to_bus_by_arn(ev: Any) -> None:
    bus = unique("pb")
    arn = ev.create_event_bus(Name=bus)["EventBusArn"]
    result = ev.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": "{}", "EventBusName": arn}])
    assert result["FailedEntryCount"] == 0


# ---- TestEventPattern -----------------------------------------------------------------------------


def test_test_event_pattern(ev: Any) -> None:
    event = json.dumps(EVENT)
    assert ev.test_event_pattern(EventPattern='{"source": ["my.app"]}', Event=event)["Result"] is True
    assert ev.test_event_pattern(EventPattern='{"source": ["other"]}', Event=event)["Result"] is False
    numeric = '{"detail": {"n": [{"numeric": [">", 0, "<=", 5]}]}}'
    assert ev.test_event_pattern(EventPattern=numeric, Event=event)["Result"] is True
    code, message, status = error_of(ev.test_event_pattern, EventPattern='{"source": []}', Event=event)
    assert (code, message, status) == (
        "InvalidEventPatternException", "Event pattern is not valid. Reason: Empty arrays are not allowed", 400)
    assert error_of(ev.test_event_pattern, EventPattern='{"source": ["a"]}', Event="{nope")[0] == "ValidationException"
    no_id = json.dumps({k: v for k, v in EVENT.items() if k != "id"})
    assert error_of(ev.test_event_pattern, EventPattern='{"source": ["a"]}', Event=no_id)[0] == "ValidationException"


def test_unknown_operation_and_bad_body(srv: LambdaliteProcess) -> None:
    import urllib.error
    import urllib.request

    def post(target: str, body: bytes) -> tuple[int, dict[str, Any], str]:
        request = urllib.request.Request(srv.endpoint + "/", data=body, method="POST", headers={
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.loads(r.read()), r.headers.get("x-amzn-ErrorType", "")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read()), err.headers.get("x-amzn-ErrorType", "")

    status, body, _ = post("AWSEvents.NoSuchThing", b"{}")
    assert status == 400 and body["__type"] == "UnknownOperationException"
    status, body, _ = post("AWSEvents.ListRules", b"{not json")
    assert status == 400 and body["__type"] == "SerializationException"
    status, body, error_type = post("AWSEvents.DescribeRule", b'{"Name": "nope"}')
    assert (status, body["__type"], error_type) == (400, "ResourceNotFoundException", "ResourceNotFoundException")
    assert body["message"] == "Rule nope does not exist on EventBus default."


@pytest.mark.parametrize("version", [1, 2])
def test_aws_cli(srv: LambdaliteProcess, version: int, tmp_path: Any) -> None:
    from tests.support.awscli import run_cli

    rule = unique(f"cli{version}")
    out = run_cli(version, srv.endpoint, ["events", "put-rule", "--name", rule,
                                          "--event-pattern", '{"source": ["cli.app"]}'], cwd=tmp_path)
    assert json.loads(out.stdout)["RuleArn"].endswith(f":rule/{rule}")
    entries = json.dumps([{"Source": "cli.app", "DetailType": "t", "Detail": "{}"}])
    out = run_cli(version, srv.endpoint, ["events", "put-events", "--entries", entries], cwd=tmp_path)
    assert json.loads(out.stdout)["FailedEntryCount"] == 0
    out = run_cli(version, srv.endpoint, ["events", "test-event-pattern", "--event-pattern", '{"source": ["x"]}',
                                          "--event", json.dumps({**EVENT, "source": "x"})], cwd=tmp_path)
    assert json.loads(out.stdout)["Result"] is True
    failed = run_cli(version, srv.endpoint, ["events", "describe-rule", "--name", "nope"], cwd=tmp_path, check=False)
    assert failed.returncode != 0 and "ResourceNotFoundException" in failed.stderr
