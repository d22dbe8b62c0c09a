"""What the CloudWatch Logs operations share: parameters, errors, paging tokens, the groups there are
(functions' with logs, and the store's) and a group's events (retention applied)."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from lambdalite.model.function_log import LogEvent, events_from_writes, retention_cutoff_ms
from lambdalite.model.log_group import LogGroupRow
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, validation_error

PREFIX = "/aws/lambda/"
MAX_EVENTS = 10_000
MAX_RESPONSE_BYTES = 1_048_576
_GROUP = re.compile(r"[\.\-_/#A-Za-z0-9]+")
NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."

def not_found(message: str) -> AwsError:
    return AwsError(400, "ResourceNotFoundException", message, type_=None)


def invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidParameterException", message, type_=None)


def param_str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise validation_error("null", key, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise AwsError(400, "SerializationException", f"Value for {key} must be a string", type_=None)
    return value


def param_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AwsError(400, "SerializationException", f"Value for {key} must be an integer", type_=None)
    return value


def param_limit(body: dict[str, Any], default: int, most: int) -> int:
    value = param_int(body, "limit")
    if value is None:
        return default
    if not 1 <= value <= most:
        raise validation_error(value, "limit", f"Member must have value less than or equal to {most}")
    return value


def group_name_param(body: dict[str, Any]) -> str:
    name = param_str(body, "logGroupName") or param_str(body, "logGroupIdentifier")
    if not name:
        raise validation_error("null", "logGroupName", "Member must not be null")
    if name.startswith("arn:"):
        name = name.split(":log-group:", 1)[-1].removesuffix(":*")
    if not 1 <= len(name) <= 512 or not _GROUP.fullmatch(name):
        raise validation_error(name, "logGroupName", "Member must satisfy regular expression pattern: "
                               "[\\.\\-_/#A-Za-z0-9]+")
    return name


def function_of(group: str) -> str | None:
    return group[len(PREFIX):] if group.startswith(PREFIX) and "/" not in group[len(PREFIX):] else None


def encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_token(value: str | None) -> str:
    if not value:
        return ""
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()
    except ValueError:
        raise invalid("The specified nextToken is invalid.") from None


async def all_groups(node: Node) -> dict[str, LogGroupRow]:
    """Every group: functions' (those with logs in the store) and the groups the store knows (explicit,
    retention)."""
    rows = {row.name: row for row in await node.store.list_log_groups()}
    for logs in await node.store.list_function_logs():
        name = PREFIX + logs.function
        if name not in rows:
            rows[name] = LogGroupRow(name, logs.created_ms, None, False)
    return rows


async def stored_bytes(node: Node) -> dict[str, int]:
    """Bytes of log text stored per group."""
    return {PREFIX + logs.function: logs.stored_bytes for logs in await node.store.list_function_logs()}


async def find_group(node: Node, name: str) -> LogGroupRow:
    found = (await all_groups(node)).get(name)
    if found is None:
        raise not_found(NO_GROUP)
    return found


def group_arn(node: Node, request: Request, name: str) -> str:
    return f"arn:aws:logs:{request.region}:{node.settings.account_id}:log-group:{name}"


async def group_events(node: Node, group: LogGroupRow) -> list[LogEvent]:
    """The group's events; those older than its retention are hidden (and deleted by `expire`)."""
    function = function_of(group.name)
    if function is None:
        return []
    since_ms = 0
    if group.retention_days is not None:
        since_ms = retention_cutoff_ms(group.retention_days, int(time.time() * 1000))
    writes = await node.store.read_function_logs(function, since_ms=since_ms)
    return events_from_writes(writes, since_ms=since_ms)


async def expire(node: Node, group: LogGroupRow) -> None:
    """Delete the group's log text older than its retention."""
    function = function_of(group.name)
    if function is not None and group.retention_days is not None:
        await node.store.expire_function_logs(function, group.retention_days, int(time.time() * 1000))
