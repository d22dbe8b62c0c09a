"""The EventBridge-compatible service (AWS JSON 1.1, `X-Amz-Target: AWSEvents.<Op>`): buses, rules, targets.

PutEvents, TestEventPattern and the internal entry point for Lambda's EventBridge destination live in
events_put.py (reached by delivery through services/ports.py); delivery to targets in
destinations/rule_targets.py.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from lambdalite import jsonpath
from lambdalite.model.bus import MAX_TARGETS_PER_RULE, BusRecord, RuleRecord
from lambdalite.model.schedule import is_valid as is_valid_schedule
from lambdalite.node import Node
from lambdalite.patterns import InvalidPatternError, compile_pattern
from lambdalite.services import events_put, events_tags
from lambdalite.services.http import (
    AwsError,
    Request,
    Response,
    new_request_id,
    parse_json_body,
    validation_error,
)
from lambdalite.store.errors import AlreadyExists, BusMissing, InUse, RuleMissing, TooManyTargets
from lambdalite.wakeups import SCHEDULES

CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_BUS = "default"
RULE_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
_BUS_NAME = re.compile(r"[/\.\-_A-Za-z0-9]+")
_BUS_NAME_OR_ARN = re.compile(
    r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+"
)
_RULE_NAME = re.compile(r"[\.\-_A-Za-z0-9]+")
_TARGET_ID = re.compile(r"[\.\-_A-Za-z0-9]+")
_TARGET_SERVICES = ("lambda", "sqs", "events")

Handler = Callable[["EventsService", Node, Request, dict[str, Any]], Awaitable[Any]]


def json11(data: Any) -> Response:
    return Response(200, orjson.dumps(data), [("x-amzn-RequestId", new_request_id())], CONTENT_TYPE)


class EventsService:
    name = "events"

    def __init__(self, node: Node):
        self.node = node
        self._default_ready: set[str] = set()

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        op = target.partition(".")[2]
        handler = _OPS.get(op)
        if handler is None:
            raise AwsError(400, "UnknownOperationException", f"{op or target or 'This operation'} is not supported by lambdalite.")
        body = parse_json_body(request.body, code="SerializationException")
        if not isinstance(body, dict):
            raise AwsError(400, "SerializationException", "Request body must be a JSON object")
        await self._ensure_default_bus(request.region)
        return json11(await handler(self, self.node, request, body))

    def error_response(self, error: AwsError, request_id: str) -> Response:
        body = orjson.dumps({"__type": error.code, "message": error.message})
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code), *error.headers]
        return Response(error.status, body, headers, CONTENT_TYPE)

    async def _ensure_default_bus(self, region: str) -> None:
        if region in self._default_ready:
            return
        arn = bus_arn(self.node, region, DEFAULT_BUS)
        now_s = int(time.time())
        await self.node.store.ensure_bus(region, DEFAULT_BUS, arn, now_s)
        self._default_ready.add(region)


# ---- naming and validation ----------------------------------------------------------------------


def bus_arn(node: Node, region: str, name: str) -> str:
    return f"{node.arn_prefix(region, 'events')}:event-bus/{name}"


def rule_arn(node: Node, region: str, bus: str, name: str) -> str:
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"{node.arn_prefix(region, 'events')}:rule/{path}"


def bus_name_of(value: str) -> str:
    """A bus name from a name or an event-bus ARN."""
    return value.rsplit(":event-bus/", 1)[1] if value.startswith("arn:") else value


def _string(body: dict[str, Any], key: str, member: str, *, required: bool = False, max_len: int | None = None,
            regex: re.Pattern[str] | None = None, min_len: int = 1) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise validation_error("null", member, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise AwsError(400, "SerializationException", f"Value for {key} must be a string")
    if len(value) < min_len:
        raise validation_error(value, member, f"Member must have length greater than or equal to {min_len}")
    if max_len is not None and len(value) > max_len:
        raise validation_error(value, member, f"Member must have length less than or equal to {max_len}")
    if regex is not None and not regex.fullmatch(value):
        raise validation_error(value, member, f"Member must satisfy regular expression pattern: {regex.pattern}")
    return value


def _rule_name(body: dict[str, Any], key: str = "Name", member: str = "name") -> str:
    return _string(body, key, member, required=True, max_len=64, regex=_RULE_NAME) or ""


def _bus_param(body: dict[str, Any]) -> str:
    value = _string(body, "EventBusName", "eventBusName", max_len=1600, regex=_BUS_NAME_OR_ARN)
    return bus_name_of(value) if value else DEFAULT_BUS


def _limit(body: dict[str, Any]) -> int:
    limit = body.get("Limit")
    if limit is None:
        return 100
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise AwsError(400, "SerializationException", "Value for Limit must be an integer")
    if not 1 <= limit <= 100:
        raise validation_error(limit, "limit", "Member must have value between 1 and 100")
    return limit


def _encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _decode_token(body: dict[str, Any]) -> str:
    token = body.get("NextToken")
    if token is None:
        return ""
    try:
        return base64.urlsafe_b64decode(str(token).encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise AwsError(400, "ValidationException", "The NextToken provided is invalid.") from None


def _page(items: list[Any], limit: int, key: Callable[[Any], str]) -> str | None:
    """Items were fetched with limit + 1: the NextToken when there is more."""
    if len(items) <= limit:
        return None
    del items[limit:]
    return _encode_token(key(items[-1]))


def bus_missing(name: str) -> AwsError:
    return AwsError(400, "ResourceNotFoundException", f"Event bus {name} does not exist.")


def rule_missing(name: str, bus: str) -> AwsError:
    return AwsError(400, "ResourceNotFoundException", f"Rule {name} does not exist on EventBus {bus}.")


# ---- buses --------------------------------------------------------------------------------------


def _bus_view(bus: BusRecord) -> dict[str, Any]:
    view: dict[str, Any] = {"Name": bus.name, "Arn": bus.arn}
    if bus.description:
        view["Description"] = bus.description
    view["CreationTime"] = bus.created_s
    view["LastModifiedTime"] = bus.modified_s
    return view


async def create_event_bus(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _string(body, "Name", "name", required=True, max_len=256, regex=_BUS_NAME) or ""
    description = _string(body, "Description", "description", max_len=512, min_len=0)
    if body.get("EventSourceName") is not None:
        raise AwsError(400, "ValidationException", "Partner event sources are not supported by lambdalite.")
    if "/" in name:
        raise AwsError(400, "ValidationException", f"Event bus name {name} is not valid: it may not contain '/'.")
    now_s = int(time.time())
    record = BusRecord(name, bus_arn(node, request.region, name), description, now_s, now_s)
    events_tags.parse_tags(body)  # refused before anything is made
    try:
        await node.store.create_bus(request.region, record)
    except AlreadyExists:
        raise AwsError(400, "ResourceAlreadyExistsException", f"Event bus {name} already exists.") from None
    await events_tags.tag_new(node, record.arn, body, replace=True)
    out: dict[str, Any] = {"EventBusArn": record.arn}
    if description:
        out["Description"] = description
    return out


async def delete_event_bus(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _string(body, "Name", "name", required=True, max_len=256, regex=_BUS_NAME) or ""
    if name == DEFAULT_BUS:
        raise AwsError(400, "ValidationException", "Cannot delete event bus default.")
    try:
        await node.store.delete_bus(request.region, name)
    except InUse:
        raise AwsError(400, "ValidationException", "EventBus can't be deleted since it has rules.") from None
    await events_tags.forget(node, bus_arn(node, request.region, name))
    return {}


async def describe_event_bus(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    value = _string(body, "Name", "name", max_len=1600, regex=_BUS_NAME_OR_ARN)
    name = bus_name_of(value) if value else DEFAULT_BUS
    bus = await node.store.get_bus(request.region, name)
    if bus is None:
        raise bus_missing(name)
    return _bus_view(bus)


async def list_event_buses(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    prefix = _string(body, "NamePrefix", "namePrefix", max_len=256, regex=_BUS_NAME) or ""
    limit = _limit(body)
    after = _decode_token(body)
    found = await node.store.list_buses(request.region, prefix, after, limit + 1)
    token = _page(found, limit, lambda b: b.name)
    out: dict[str, Any] = {"EventBuses": [_bus_view(b) for b in found]}
    if token:
        out["NextToken"] = token
    return out


# ---- rules --------------------------------------------------------------------------------------


def _rule_view(node: Node, rule: RuleRecord, *, describe: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"Name": rule.name, "Arn": rule.arn}
    if rule.pattern is not None:
        view["EventPattern"] = rule.pattern
    if rule.schedule is not None:
        view["ScheduleExpression"] = rule.schedule
    view["State"] = rule.state
    if rule.description is not None:
        view["Description"] = rule.description
    if rule.role_arn is not None:
        view["RoleArn"] = rule.role_arn
    view["EventBusName"] = rule.bus
    if describe:
        view["CreatedBy"] = node.settings.account_id
    return view


async def put_rule(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _rule_name(body)
    bus = _bus_param(body)
    pattern = _string(body, "EventPattern", "eventPattern", max_len=4096, min_len=0)
    schedule = _string(body, "ScheduleExpression", "scheduleExpression", max_len=256, min_len=0)
    state = _string(body, "State", "state", min_len=0) or "ENABLED"
    if state not in RULE_STATES:
        raise validation_error(state, "state", f"Member must satisfy enum value set: [{', '.join(RULE_STATES)}]")
    description = _string(body, "Description", "description", max_len=512, min_len=0)
    role = _string(body, "RoleArn", "roleArn", max_len=1600)
    if not pattern and not schedule:
        raise AwsError(400, "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
    if schedule:
        _check_schedule(schedule, bus)
    if pattern:
        try:
            compile_pattern(pattern)
        except InvalidPatternError as err:
            raise AwsError(400, "InvalidEventPatternException", str(err)) from None
    record = RuleRecord(bus, name, rule_arn(node, request.region, bus, name), pattern or None, schedule or None,
                        state, description, role)
    now_s = int(time.time())
    events_tags.parse_tags(body)
    try:
        await node.store.put_rule(request.region, record, now_s)
    except BusMissing:
        raise bus_missing(bus) from None
    await events_tags.tag_new(node, record.arn, body, replace=False)
    node.wakeups.notify(SCHEDULES)  # its first tick, or a changed one
    return {"RuleArn": record.arn}


def _check_schedule(expression: str, bus: str) -> None:
    if bus != DEFAULT_BUS:
        raise AwsError(400, "ValidationException", "ScheduleExpression is supported only on the default event bus.")
    if not is_valid_schedule(expression):
        raise AwsError(400, "ValidationException", "Parameter ScheduleExpression is not valid.")


async def describe_rule(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    name, bus = _rule_name(body), _bus_param(body)
    rule = await node.store.get_rule(request.region, bus, name)
    if rule is None:
        raise rule_missing(name, bus)
    return _rule_view(node, rule, describe=True)


async def list_rules(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    prefix = _string(body, "NamePrefix", "namePrefix", max_len=64, regex=_RULE_NAME) or ""
    bus = _bus_param(body)
    limit = _limit(body)
    after = _decode_token(body)

    found = await node.store.list_rules(request.region, bus, prefix, after, limit + 1)
    if found is None:
        raise bus_missing(bus)
    token = _page(found, limit, lambda r: r.name)
    out: dict[str, Any] = {"Rules": [_rule_view(node, r, describe=False) for r in found]}
    if token:
        out["NextToken"] = token
    return out


async def delete_rule(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    name, bus = _rule_name(body), _bus_param(body)
    try:
        await node.store.delete_rule(request.region, bus, name)
    except InUse:
        raise AwsError(400, "ValidationException", "Rule can't be deleted since it has targets.") from None
    await events_tags.forget(node, rule_arn(node, request.region, bus, name))
    return {}


async def _set_state(node: Node, request: Request, body: dict[str, Any], state: str) -> Any:
    name, bus = _rule_name(body), _bus_param(body)
    try:
        await node.store.set_rule_state(request.region, bus, name, state)
    except RuleMissing:
        raise rule_missing(name, bus) from None
    node.wakeups.notify(SCHEDULES)
    return {}


async def enable_rule(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    return await _set_state(node, request, body, "ENABLED")


async def disable_rule(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    return await _set_state(node, request, body, "DISABLED")


# ---- targets ------------------------------------------------------------------------------------


def _target_error(target: dict[str, Any]) -> str | None:
    """Why lambdalite cannot deliver to this (well-formed) target, or None."""
    parts = str(target["Arn"]).split(":", 5)
    service, resource = parts[2], parts[5]
    if service not in _TARGET_SERVICES:
        return f"Target type {service} is not supported by lambdalite (supported: Lambda, SQS, EventBridge bus)."
    if service == "lambda" and not resource.startswith("function:"):
        return f"Target {target['Arn']} is not a Lambda function ARN."
    if service == "events" and not resource.startswith("event-bus/"):
        return f"Target {target['Arn']} is not an event bus ARN."
    if sum(k in target for k in ("Input", "InputPath", "InputTransformer")) > 1:
        return "Only one of Input, InputPath, or InputTransformer must be provided."
    return None


def _check_target(target: Any, index: int) -> dict[str, Any]:
    """Request-level checks (AWS fails the whole call for these)."""
    member = f"targets.{index}.member"
    if not isinstance(target, dict):
        raise AwsError(400, "SerializationException", "Each target must be a JSON object")
    _string(target, "Id", f"{member}.id", required=True, max_len=64, regex=_TARGET_ID)
    arn = _string(target, "Arn", f"{member}.arn", required=True, max_len=1600) or ""
    if len(arn.split(":", 5)) != 6 or not arn.startswith("arn:"):
        raise AwsError(400, "ValidationException",
                       f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")
    if "Input" in target:
        text = _string(target, "Input", f"{member}.input", max_len=8192, min_len=0) or ""
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            raise AwsError(400, "ValidationException", "Input is not valid JSON text.") from None
    if "InputPath" in target:
        path = _string(target, "InputPath", f"{member}.inputPath", max_len=256, min_len=0) or ""
        if not jsonpath.valid_json_path(path):
            raise AwsError(400, "ValidationException", f"InputPath {path} is not a valid JSON path.")
    transformer = target.get("InputTransformer")
    if transformer is not None:
        if not isinstance(transformer, dict) or not isinstance(transformer.get("InputTemplate"), str):
            raise validation_error("null", f"{member}.inputTransformer.inputTemplate", "Member must not be null")
        paths = transformer.get("InputPathsMap") or {}
        if not isinstance(paths, dict) or not all(
            isinstance(v, str) and jsonpath.valid_json_path(v) for v in paths.values()
        ):
            raise AwsError(400, "ValidationException", "InputPathsMap has an invalid JSON path.")
    return target


def _list_param(body: dict[str, Any], key: str, member: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        raise validation_error("null", member, "Member must not be null")
    if not isinstance(value, list):
        raise AwsError(400, "SerializationException", f"Value for {key} must be a list")
    if not 1 <= len(value) <= 100:
        bound = "greater than or equal to 1" if not value else "less than or equal to 100"
        raise validation_error(value, member, f"Member must have length {bound}")
    return value


async def put_targets(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    rule, bus = _rule_name(body, "Rule", "rule"), _bus_param(body)
    targets = [_check_target(t, i + 1) for i, t in enumerate(_list_param(body, "Targets", "targets"))]
    failed: list[dict[str, Any]] = []
    accepted: list[dict[str, Any]] = []
    for target in targets:
        reason = _target_error(target)
        if reason is None:
            accepted.append(target)
        else:
            failed.append({"TargetId": target["Id"], "ErrorCode": "ValidationException", "ErrorMessage": reason})
    try:
        await node.store.put_targets(request.region, bus, rule, accepted)
    except RuleMissing:
        raise rule_missing(rule, bus) from None
    except TooManyTargets:
        raise AwsError(400, "LimitExceededException",
                       f"The requested resource exceeds the maximum number allowed ({MAX_TARGETS_PER_RULE} "
                       "targets per rule).") from None
    return {"FailedEntryCount": len(failed), "FailedEntries": failed}


async def remove_targets(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    rule, bus = _rule_name(body, "Rule", "rule"), _bus_param(body)
    ids = _list_param(body, "Ids", "ids")
    for i, target_id in enumerate(ids):
        _string({"Id": target_id}, "Id", f"ids.{i + 1}.member", required=True, max_len=64, regex=_TARGET_ID)
    try:
        await node.store.remove_targets(request.region, bus, rule, ids)
    except RuleMissing:
        raise rule_missing(rule, bus) from None
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    rule, bus = _rule_name(body, "Rule", "rule"), _bus_param(body)
    limit = _limit(body)
    token = _decode_token(body)
    after_seq = int(token) if token.isdigit() else 0
    try:
        found = await node.store.list_targets(request.region, bus, rule, after_seq, limit + 1)
    except RuleMissing:
        raise rule_missing(rule, bus) from None
    next_token = _page(found, limit, lambda item: str(item[0]))
    out: dict[str, Any] = {"Targets": [t for _, t in found]}
    if next_token:
        out["NextToken"] = next_token
    return out


async def list_rule_names_by_target(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    target_arn = _string(body, "TargetArn", "targetArn", required=True, max_len=1600) or ""
    bus, limit, after = _bus_param(body), _limit(body), _decode_token(body)
    names = await node.store.rule_names_by_target(request.region, bus, target_arn)
    if names is None:
        raise bus_missing(bus)
    found = [name for name in names if name > after][:limit + 1]
    token = _page(found, limit, lambda name: name)
    out: dict[str, Any] = {"RuleNames": found}
    if token:
        out["NextToken"] = token
    return out


# ---- events -------------------------------------------------------------------------------------


async def put_events(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    return await events_put.put_events_request(node, request.region, body, request.headers.get("x-amzn-trace-id"))


async def test_event_pattern(svc: EventsService, node: Node, request: Request, body: dict[str, Any]) -> Any:
    return events_put.test_event_pattern(body)


_OPS: dict[str, Handler] = {
    "CreateEventBus": create_event_bus,
    "DeleteEventBus": delete_event_bus,
    "DescribeEventBus": describe_event_bus,
    "ListEventBuses": list_event_buses,
    "PutRule": put_rule,
    "DescribeRule": describe_rule,
    "ListRules": list_rules,
    "DeleteRule": delete_rule,
    "EnableRule": enable_rule,
    "DisableRule": disable_rule,
    "PutTargets": put_targets,
    "RemoveTargets": remove_targets,
    "ListTargetsByRule": list_targets_by_rule,
    "ListRuleNamesByTarget": list_rule_names_by_target,
    "PutEvents": put_events,
    "TestEventPattern": test_event_pattern,
    "TagResource": lambda svc, node, request, body: events_tags.tag_resource(node, request, body),
    "UntagResource": lambda svc, node, request, body: events_tags.untag_resource(node, request, body),
    "ListTagsForResource": lambda svc, node, request, body: events_tags.list_tags_for_resource(node, request, body),
}
