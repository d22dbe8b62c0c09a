"""Log streams and events: DescribeLogStreams, GetLogEvents (f/ and b/ tokens), FilterLogEvents."""

from __future__ import annotations

from typing import Any

from lambdalite.model.function_log import LogEvent, streams
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, validation_error
from lambdalite.services.logs.common import (
    MAX_EVENTS,
    MAX_RESPONSE_BYTES,
    NO_STREAM,
    decode_token,
    encode_token,
    find_group,
    group_arn,
    group_events,
    group_name_param,
    invalid,
    not_found,
    param_int,
    param_limit,
    param_str,
)
from lambdalite.services.logs.filter_pattern import compile_filter


async def describe_log_streams(node: Node, request: Request, body: dict[str, Any]) -> Any:
    group = await find_group(node, group_name_param(body))
    prefix = param_str(body, "logStreamNamePrefix") or ""
    order = param_str(body, "orderBy") or "LogStreamName"
    if order not in ("LogStreamName", "LastEventTime"):
        raise validation_error(order, "orderBy", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
    if order == "LastEventTime" and prefix:
        raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(body.get("descending"))
    limit = param_limit(body, 50, 50)
    found = [s for s in streams(await group_events(node, group)) if s.name.startswith(prefix)]
    found.sort(key=(lambda s: s.name) if order == "LogStreamName" else (lambda s: (s.last_ms, s.name)),
               reverse=descending)
    start = int(decode_token(param_str(body, "nextToken")) or 0)
    page = found[start:start + limit]
    arn = group_arn(node, request, group.name)
    out: dict[str, Any] = {"logStreams": [
        {"logStreamName": s.name, "creationTime": s.first_ms, "firstEventTimestamp": s.first_ms,
         "lastEventTimestamp": s.last_ms, "lastIngestionTime": s.last_ms, "uploadSequenceToken": "1",
         "arn": f"{arn}:log-stream:{s.name}", "storedBytes": 0} for s in page]}
    if start + limit < len(found):
        out["nextToken"] = encode_token(str(start + limit))
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
    group = await find_group(node, group_name_param(body))
    stream = param_str(body, "logStreamName", required=True) or ""
    start_ms, end_ms = param_int(body, "startTime"), param_int(body, "endTime")
    limit = param_limit(body, MAX_EVENTS, MAX_EVENTS)
    events = [e for e in await group_events(node, group) if e.stream == stream]
    if not events:
        raise not_found(NO_STREAM)
    events = [e for e in events if _within(e, start_ms, end_ms)]
    token = param_str(body, "nextToken") or ""
    if token and not token.startswith(("f/", "b/")):
        raise invalid("The specified nextToken is invalid.")
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
    group = await find_group(node, group_name_param(body))
    names = body.get("logStreamNames")
    prefix = param_str(body, "logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise invalid("Cannot specify both LogStreamNames and LogStreamNamePrefix.")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise AwsError(400, "SerializationException", "Value for logStreamNames must be a list", type_=None)
    start_ms, end_ms = param_int(body, "startTime"), param_int(body, "endTime")
    matches = compile_filter(param_str(body, "filterPattern") or "")
    limit = param_limit(body, MAX_EVENTS, MAX_EVENTS)
    after = decode_token(param_str(body, "nextToken"))
    events = [e for e in await group_events(node, group)
              if (names is None or e.stream in names) and (prefix is None or e.stream.startswith(prefix))
              and _within(e, start_ms, end_ms) and e.event_id > after and matches(e.message)]
    page = _cap(events, limit)
    out: dict[str, Any] = {"events": [_view(e, stream=True) for e in page], "searchedLogStreams": []}
    if len(page) < len(events):
        out["nextToken"] = encode_token(page[-1].event_id)
    return out


