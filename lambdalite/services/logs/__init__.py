"""CloudWatch Logs (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`) over lambdalite's function logs.

The subset `aws logs tail [--follow]`, filter-log-events, get-log-events and describe-log-groups/-streams
use: group /aws/lambda/NAME per function with logs, one stream per execution environment (named as
Lambda names them), events read from the log files (runtime/log_events.py). Retention (Put/Delete
RetentionPolicy) is kept in the store and enforced: older rotated files are deleted, older events hidden.
CreateLogGroup / DeleteLogGroup exist for tools that manage the group themselves.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from lambdalite.model.log_group import RETENTION_DAYS, LogGroupRow
from lambdalite.node import Node
from lambdalite.runtime import log_events
from lambdalite.runtime.log_events import LogEvent
from lambdalite.runtime.logs import index_path
from lambdalite.services.http import (
    AwsError,
    Request,
    Response,
    new_request_id,
    parse_json_body,
    validation_error,
)
from lambdalite.services.logs.filter_pattern import compile_filter
from lambdalite.store.errors import AlreadyExists

CONTENT_TYPE = "application/x-amz-json-1.1"
PREFIX = "/aws/lambda/"
MAX_EVENTS = 10_000
MAX_RESPONSE_BYTES = 1_048_576
_GROUP = re.compile(r"[\.\-_/#A-Za-z0-9]+")
NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."

Handler = Callable[[Node, Request, dict[str, Any]], Awaitable[Any]]


def _missing(message: str) -> AwsError:
    return AwsError(400, "ResourceNotFoundException", message, type_=None)


def _invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidParameterException", message, type_=None)


def _str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise validation_error("null", key, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise AwsError(400, "SerializationException", f"Value for {key} must be a string", type_=None)
    return value


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AwsError(400, "SerializationException", f"Value for {key} must be an integer", type_=None)
    return value


def _limit(body: dict[str, Any], default: int, most: int) -> int:
    value = _int(body, "limit")
    if value is None:
        return default
    if not 1 <= value <= most:
        raise validation_error(value, "limit", f"Member must have value less than or equal to {most}")
    return value


def _group_name(body: dict[str, Any]) -> str:
    name = _str(body, "logGroupName") or _str(body, "logGroupIdentifier")
    if not name:
        raise validation_error("null", "logGroupName", "Member must not be null")
    if name.startswith("arn:"):
        name = name.split(":log-group:", 1)[-1].removesuffix(":*")
    if not 1 <= len(name) <= 512 or not _GROUP.fullmatch(name):
        raise validation_error(name, "logGroupName", "Member must satisfy regular expression pattern: "
                               "[\\.\\-_/#A-Za-z0-9]+")
    return name


def _function_of(group: str) -> str | None:
    return group[len(PREFIX):] if group.startswith(PREFIX) and "/" not in group[len(PREFIX):] else None


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _untoken(value: str | None) -> str:
    if not value:
        return ""
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()
    except ValueError:
        raise _invalid("The specified nextToken is invalid.") from None


class LogsService:
    name = "logs"

    def __init__(self, node: Node):
        self.node = node

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        op = target.partition(".")[2]
        handler = _OPS.get(op)
        if handler is None:
            raise AwsError(400, "UnknownOperationException",
                           f"{op or target or 'This operation'} is not supported by lambdalite.", type_=None)
        body = parse_json_body(request.body, code="SerializationException")
        if not isinstance(body, dict):
            raise AwsError(400, "SerializationException", "Request body must be a JSON object", type_=None)
        data = await handler(self.node, request, body)
        return Response(200, orjson.dumps(data), [("x-amzn-RequestId", new_request_id())], CONTENT_TYPE)

    def error_response(self, error: AwsError, request_id: str) -> Response:
        body = orjson.dumps({"__type": error.code, "message": error.message})
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code), *error.headers]
        return Response(error.status, body, headers, CONTENT_TYPE)


# ---- groups -----------------------------------------------------------------------------------------


async def _groups(node: Node) -> dict[str, LogGroupRow]:
    """Every group: functions' (from their log files) and those the store knows (explicit, retention)."""
    rows = {row.name: row for row in await node.store.list_log_groups()}
    logs_dir = node.settings.logs_dir
    for function in await asyncio.to_thread(log_events.functions_with_logs, logs_dir):
        name = PREFIX + function
        if name not in rows:
            created_ms = int((logs_dir / f"{function}.log").stat().st_ctime * 1000)
            rows[name] = LogGroupRow(name, created_ms, None, False)
    return rows


async def _group(node: Node, name: str) -> LogGroupRow:
    found = (await _groups(node)).get(name)
    if found is None:
        raise _missing(NO_GROUP)
    return found


def _group_arn(node: Node, request: Request, name: str) -> str:
    return f"arn:aws:logs:{request.region}:{node.settings.account_id}:log-group:{name}"


async def _events(node: Node, group: LogGroupRow) -> list[LogEvent]:
    function = _function_of(group.name)
    if function is None:
        return []
    settings = node.settings
    since_ms = 0
    if group.retention_days is not None:
        since_ms = int((time.time() - group.retention_days * 86400) * 1000)
        await asyncio.to_thread(log_events.enforce_retention, settings.logs_dir, function, settings.log_keep_files,
                                group.retention_days)
    return await asyncio.to_thread(log_events.read_events, settings.logs_dir, function, settings.log_keep_files,
                                   since_ms=since_ms)


async def describe_log_groups(node: Node, request: Request, body: dict[str, Any]) -> Any:
    prefix = _str(body, "logGroupNamePrefix") or ""
    pattern = _str(body, "logGroupNamePattern") or ""
    if prefix and pattern:
        raise _invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.")
    limit = _limit(body, 50, 50)
    after = _untoken(_str(body, "nextToken"))
    groups = await _groups(node)
    names = sorted(n for n in groups if n.startswith(prefix) and pattern in n and n > after)
    page = names[:limit]
    out: dict[str, Any] = {"logGroups": []}
    for name in page:
        row = groups[name]
        view: dict[str, Any] = {"logGroupName": name, "creationTime": row.created_ms}
        if row.retention_days is not None:
            view["retentionInDays"] = row.retention_days
        arn = _group_arn(node, request, name)
        view.update({"metricFilterCount": 0, "arn": arn + ":*", "storedBytes": 0, "logGroupClass": "STANDARD",
                     "logGroupArn": arn})
        out["logGroups"].append(view)
    if len(names) > limit:
        out["nextToken"] = _token(page[-1])
    return out


async def create_log_group(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _group_name(body)
    tags = _tags(body, "tags")
    if name in await _groups(node):  # a function's group exists once it has logs, as on AWS
        raise AwsError(400, "ResourceAlreadyExistsException", "The specified log group already exists", type_=None)
    try:
        await node.store.put_log_group(name, now_ms=int(time.time() * 1000), explicit=True, create_only=True)
    except AlreadyExists:
        raise AwsError(400, "ResourceAlreadyExistsException", "The specified log group already exists",
                       type_=None) from None
    await node.store.set_tags(_group_arn(node, request, name), lambda _current: tags)
    return {}


async def delete_log_group(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _group_name(body)
    await _group(node, name)
    await node.store.delete_log_group(name)
    await node.store.delete_tags(_group_arn(node, request, name))
    if (function := _function_of(name)) is not None:
        node.pool.logbook.forget(function)  # this process's open files (a next write starts a new file)
        await asyncio.to_thread(_delete_files, node, function)
    return {}


def _delete_files(node: Node, function: str) -> None:
    for path in log_events.function_files(node.settings.logs_dir, function, node.settings.log_keep_files):
        path.unlink(missing_ok=True)
        index_path(path).unlink(missing_ok=True)


async def put_retention_policy(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _group_name(body)
    days = _int(body, "retentionInDays")
    if days is None:
        raise validation_error("null", "retentionInDays", "Member must not be null")
    if days not in RETENTION_DAYS:
        raise _invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                       "constraint: Member must satisfy enum value set: [" + ", ".join(map(str, RETENTION_DAYS)) + "]")
    await _group(node, name)
    row = await node.store.put_log_group(name, now_ms=int(time.time() * 1000), retention_days=days)
    await _events(node, row)  # enforce now: old rotated files go
    return {}


async def enforce_retention(node: Node) -> None:
    """The maintenance loop's turn: every function group with a retention loses its old rotated files,
    read or not."""
    settings = node.settings
    for row in await node.store.list_log_groups():
        function = _function_of(row.name)
        if row.retention_days is not None and function is not None:
            await asyncio.to_thread(log_events.enforce_retention, settings.logs_dir, function,
                                    settings.log_keep_files, row.retention_days)


async def delete_retention_policy(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = _group_name(body)
    await _group(node, name)
    await node.store.put_log_group(name, now_ms=int(time.time() * 1000), clear_retention=True)
    return {}


# ---- streams and events -----------------------------------------------------------------------------


async def describe_log_streams(node: Node, request: Request, body: dict[str, Any]) -> Any:
    group = await _group(node, _group_name(body))
    prefix = _str(body, "logStreamNamePrefix") or ""
    order = _str(body, "orderBy") or "LogStreamName"
    if order not in ("LogStreamName", "LastEventTime"):
        raise validation_error(order, "orderBy", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
    if order == "LastEventTime" and prefix:
        raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(body.get("descending"))
    limit = _limit(body, 50, 50)
    found = [s for s in log_events.streams(await _events(node, group)) if s.name.startswith(prefix)]
    found.sort(key=(lambda s: s.name) if order == "LogStreamName" else (lambda s: (s.last_ms, s.name)),
               reverse=descending)
    start = int(_untoken(_str(body, "nextToken")) or 0)
    page = found[start:start + limit]
    arn = _group_arn(node, request, group.name)
    out: dict[str, Any] = {"logStreams": [
        {"logStreamName": s.name, "creationTime": s.first_ms, "firstEventTimestamp": s.first_ms,
         "lastEventTimestamp": s.last_ms, "lastIngestionTime": s.last_ms, "uploadSequenceToken": "1",
         "arn": f"{arn}:log-stream:{s.name}", "storedBytes": 0} for s in page]}
    if start + limit < len(found):
        out["nextToken"] = _token(str(start + limit))
    return out


def _view(event: LogEvent, *, stream: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"logStreamName": event.stream} if stream else {}
    view.update({"timestamp": event.timestamp_ms, "message": event.message, "ingestionTime": event.ingestion_ms})
    if stream:
        view["eventId"] = event.event_id
    return view


def _within(event: LogEvent, start_ms: int | None, end_ms: int | None) -> bool:
    return (start_ms is None or event.timestamp_ms >= start_ms) and (end_ms is None or event.timestamp_ms < end_ms)


def _cap(events: list[LogEvent], limit: int) -> list[LogEvent]:
    """At most `limit` events and about 1 MB of messages, as AWS pages them."""
    total = 0
    for i, event in enumerate(events[:limit]):
        total += len(event.message.encode()) + 26
        if total > MAX_RESPONSE_BYTES and i:
            return events[:i]
    return events[:limit]


async def get_log_events(node: Node, request: Request, body: dict[str, Any]) -> Any:
    group = await _group(node, _group_name(body))
    stream = _str(body, "logStreamName", required=True) or ""
    start_ms, end_ms = _int(body, "startTime"), _int(body, "endTime")
    limit = _limit(body, MAX_EVENTS, MAX_EVENTS)
    events = [e for e in await _events(node, group) if e.stream == stream]
    if not events:
        raise _missing(NO_STREAM)
    events = [e for e in events if _within(e, start_ms, end_ms)]
    token = _str(body, "nextToken") or ""
    if token and not token.startswith(("f/", "b/")):
        raise _invalid("The specified nextToken is invalid.")
    if token.startswith("b/"):
        page = [e for e in events if e.event_id < token[2:]][-limit:]
    elif token.startswith("f/"):
        page = _cap([e for e in events if e.event_id > token[2:]], limit)
    elif body.get("startFromHead"):
        page = _cap(events, limit)
    else:
        page = events[-limit:]
    forward = page[-1].event_id if page else (token[2:] if token else (events[-1].event_id if events else ""))
    backward = page[0].event_id if page else (token[2:] if token else "")
    return {"events": [_view(e, stream=False) for e in page], "nextForwardToken": f"f/{forward}",
            "nextBackwardToken": f"b/{backward}"}


async def filter_log_events(node: Node, request: Request, body: dict[str, Any]) -> Any:
    group = await _group(node, _group_name(body))
    names = body.get("logStreamNames")
    prefix = _str(body, "logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise _invalid("Cannot specify both LogStreamNames and LogStreamNamePrefix.")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise AwsError(400, "SerializationException", "Value for logStreamNames must be a list", type_=None)
    start_ms, end_ms = _int(body, "startTime"), _int(body, "endTime")
    matches = compile_filter(_str(body, "filterPattern") or "")
    limit = _limit(body, MAX_EVENTS, MAX_EVENTS)
    after = _untoken(_str(body, "nextToken"))
    events = [e for e in await _events(node, group)
              if (names is None or e.stream in names) and (prefix is None or e.stream.startswith(prefix))
              and _within(e, start_ms, end_ms) and e.event_id > after and matches(e.message)]
    page = _cap(events, limit)
    out: dict[str, Any] = {"events": [_view(e, stream=True) for e in page], "searchedLogStreams": []}
    if len(page) < len(events):
        out["nextToken"] = _token(page[-1].event_id)
    return out


# ---- tags ---------------------------------------------------------------------------------------------


def _tags(body: dict[str, Any], key: str) -> dict[str, str]:
    tags = body.get(key)
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise AwsError(400, "SerializationException", f"Value for {key} must be a map of strings", type_=None)
    if len(tags) > 50:
        raise validation_error("{...}", key, "Member must have length less than or equal to 50")
    return dict(tags)


async def _tagged_group(node: Node, request: Request, body: dict[str, Any]) -> str:
    """The group ARN a tag operation names (resourceArn, or the legacy logGroupName); must exist."""
    arn = _str(body, "resourceArn")
    name = _group_name({"logGroupName": arn}) if arn else _group_name(body)
    await _group(node, name)
    return _group_arn(node, request, name)


async def list_tags(node: Node, request: Request, body: dict[str, Any]) -> Any:
    return {"tags": await node.store.get_tags(await _tagged_group(node, request, body))}


async def tag_resource(node: Node, request: Request, body: dict[str, Any]) -> Any:
    arn = await _tagged_group(node, request, body)
    new = _tags(body, "tags")
    await node.store.set_tags(arn, lambda current: {**current, **new})
    return {}


async def untag_resource(node: Node, request: Request, body: dict[str, Any]) -> Any:
    arn = await _tagged_group(node, request, body)
    keys = body.get("tagKeys") if "tagKeys" in body else body.get("tags")
    if not isinstance(keys, list):
        raise validation_error("null", "tagKeys", "Member must not be null")
    await node.store.set_tags(arn, lambda current: {k: v for k, v in current.items() if k not in keys})
    return {}


_OPS: dict[str, Handler] = {
    "ListTagsForResource": list_tags,
    "ListTagsLogGroup": list_tags,
    "TagResource": tag_resource,
    "TagLogGroup": tag_resource,
    "UntagResource": untag_resource,
    "UntagLogGroup": untag_resource,
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "CreateLogGroup": create_log_group,
    "DeleteLogGroup": delete_log_group,
}
