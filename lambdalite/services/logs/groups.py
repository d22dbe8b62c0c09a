"""Log groups: describe, create, delete, retention (kept in the store, enforced on the stored text) and tags."""

from __future__ import annotations

import time
from typing import Any

from lambdalite.model.log_group import RETENTION_DAYS
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, validation_error
from lambdalite.services.logs.common import (
    all_groups,
    decode_token,
    encode_token,
    expire,
    find_group,
    function_of,
    group_arn,
    group_name_param,
    invalid,
    param_int,
    param_limit,
    param_str,
    stored_bytes,
)
from lambdalite.store.errors import AlreadyExists


async def describe_log_groups(node: Node, request: Request, body: dict[str, Any]) -> Any:
    prefix = param_str(body, "logGroupNamePrefix") or ""
    pattern = param_str(body, "logGroupNamePattern") or ""
    if prefix and pattern:
        raise invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.")
    limit = param_limit(body, 50, 50)
    after = decode_token(param_str(body, "nextToken"))
    groups = await all_groups(node)
    names = sorted(n for n in groups if n.startswith(prefix) and pattern in n and n > after)
    page = names[:limit]
    sizes = await stored_bytes(node)
    out: dict[str, Any] = {"logGroups": []}
    for name in page:
        row = groups[name]
        view: dict[str, Any] = {"logGroupName": name, "creationTime": row.created_ms}
        if row.retention_days is not None:
            view["retentionInDays"] = row.retention_days
        arn = group_arn(node, request, name)
        view.update({"metricFilterCount": 0, "arn": arn + ":*", "storedBytes": sizes.get(name, 0), "logGroupClass": "STANDARD",
                     "logGroupArn": arn})
        out["logGroups"].append(view)
    if len(names) > limit:
        out["nextToken"] = encode_token(page[-1])
    return out


async def create_log_group(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = group_name_param(body)
    tags = _tags(body, "tags")
    if name in await all_groups(node):  # a function's group exists once it has logs, as on AWS
        raise AwsError(400, "ResourceAlreadyExistsException", "The specified log group already exists", type_=None)
    try:
        await node.store.put_log_group(name, now_ms=int(time.time() * 1000), explicit=True, create_only=True)
    except AlreadyExists:
        raise AwsError(400, "ResourceAlreadyExistsException", "The specified log group already exists",
                       type_=None) from None
    await node.store.set_tags(group_arn(node, request, name), lambda _current: tags)
    return {}


async def delete_log_group(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = group_name_param(body)
    await find_group(node, name)
    await node.store.delete_log_group(name)
    await node.store.delete_tags(group_arn(node, request, name))
    if (function := function_of(name)) is not None:
        node.pool.logbook.forget(function)  # this process's unwritten lines
        await node.store.delete_function_logs(function)
    return {}


async def put_retention_policy(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = group_name_param(body)
    days = param_int(body, "retentionInDays")
    if days is None:
        raise validation_error("null", "retentionInDays", "Member must not be null")
    if days not in RETENTION_DAYS:
        raise invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                       "constraint: Member must satisfy enum value set: [" + ", ".join(map(str, RETENTION_DAYS)) + "]")
    await find_group(node, name)
    row = await node.store.put_log_group(name, now_ms=int(time.time() * 1000), retention_days=days)
    await expire(node, row)  # enforce now: old text goes
    return {}


async def enforce_retention(node: Node) -> None:
    """The maintenance loop's turn: every function group with a retention loses its old text, read or not."""
    for row in await node.store.list_log_groups():
        await expire(node, row)


async def delete_retention_policy(node: Node, request: Request, body: dict[str, Any]) -> Any:
    name = group_name_param(body)
    await find_group(node, name)
    await node.store.put_log_group(name, now_ms=int(time.time() * 1000), clear_retention=True)
    return {}



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
    arn = param_str(body, "resourceArn")
    name = group_name_param({"logGroupName": arn}) if arn else group_name_param(body)
    await find_group(node, name)
    return group_arn(node, request, name)


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


