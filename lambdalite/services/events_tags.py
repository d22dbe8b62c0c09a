"""EventBridge TagResource / UntagResource / ListTagsForResource on buses and rules, and the Tags of
CreateEventBus and PutRule (AWS JSON 1.1 list-of-{Key, Value} shape; stored by ARN: store.TagsStore)."""

from __future__ import annotations

import re
from typing import Any

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, validation_error

MAX_TAGS = 50
_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z0-9-]+):(\d{12}):(event-bus|rule)/(.+)")


def parse_tags(body: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    """[{Key, Value}] -> a map; keys 1-128 characters, values up to 256, as botocore's Tag shape says."""
    raw = body.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise AwsError(400, "SerializationException", f"Value for {key} must be a list")
    tags: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str) or not isinstance(item.get("Value"), str):
            raise AwsError(400, "SerializationException", "Each tag must have a string Key and Value")
        if not 1 <= len(item["Key"]) <= 128:
            raise validation_error(item["Key"], "tags.member.key", "Member must have length less than or equal to 128")
        if len(item["Value"]) > 256:
            raise validation_error(item["Value"], "tags.member.value",
                                   "Member must have length less than or equal to 256")
        tags[item["Key"]] = item["Value"]
    return tags


async def _existing(node: Node, request: Request, arn: str) -> str:
    """The ARN of an existing bus or rule of this region; ResourceNotFoundException otherwise."""
    found = _ARN.fullmatch(arn)
    if found is None:
        raise validation_error(arn, "resourceARN", "Member must satisfy regular expression pattern: arn:aws[\\w-]*:"
                               "events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{12}:(event-bus|rule)/.+")
    region, _account, kind, path = found.groups()
    if kind == "event-bus":
        if await node.store.get_bus(region, path) is None:
            raise AwsError(400, "ResourceNotFoundException", f"Event bus {path} does not exist.")
        return arn
    bus, _, name = path.rpartition("/")
    bus = bus or "default"
    if await node.store.get_rule(region, bus, name) is None:
        raise AwsError(400, "ResourceNotFoundException", f"Rule {name} does not exist on EventBus {bus}.")
    return arn


def _arn_param(body: dict[str, Any]) -> str:
    arn = body.get("ResourceARN")
    if not isinstance(arn, str) or not arn:
        raise validation_error("null", "resourceARN", "Member must not be null")
    return arn


async def tag_resource(node: Node, request: Request, body: dict[str, Any]) -> Any:
    arn = await _existing(node, request, _arn_param(body))
    if body.get("Tags") is None:
        raise validation_error("null", "tags", "Member must not be null")
    new = parse_tags(body)

    def merge(current: dict[str, str]) -> dict[str, str]:
        merged = {**current, **new}
        if len(merged) > MAX_TAGS:
            raise AwsError(400, "LimitExceededException", f"The number of tags exceeds the limit of {MAX_TAGS}.")
        return merged

    await node.store.set_tags(arn, merge)
    return {}


async def untag_resource(node: Node, request: Request, body: dict[str, Any]) -> Any:
    arn = await _existing(node, request, _arn_param(body))
    keys = body.get("TagKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise validation_error("null", "tagKeys", "Member must not be null")
    await node.store.set_tags(arn, lambda current: {k: v for k, v in current.items() if k not in keys})
    return {}


async def list_tags_for_resource(node: Node, request: Request, body: dict[str, Any]) -> Any:
    arn = await _existing(node, request, _arn_param(body))
    return {"Tags": [{"Key": k, "Value": v} for k, v in (await node.store.get_tags(arn)).items()]}


async def tag_new(node: Node, arn: str, body: dict[str, Any], *, replace: bool) -> None:
    """CreateEventBus (a new bus starts with exactly its Tags) and PutRule (Tags given are merged in)."""
    tags = parse_tags(body)
    if replace or tags:
        await node.store.set_tags(arn, lambda current: tags if replace else {**current, **tags})


async def forget(node: Node, arn: str) -> None:
    await node.store.delete_tags(arn)
