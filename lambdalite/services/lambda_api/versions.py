"""PublishVersion, ListVersionsByFunction and the alias operations.

Weighted alias routing (RoutingConfig.AdditionalVersionWeights) is refused with a clear message: an
alias points at exactly one version here.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from lambdalite.arn import ALIAS_PATTERN, is_alias_name
from lambdalite.node import Node
from lambdalite.services.http import (
    AwsError,
    Request,
    Response,
    empty_response,
    json_response,
    validation_error,
)
from lambdalite.services.lambda_api import config as cfg
from lambdalite.services.lambda_api.common import (
    arn_of,
    body_object,
    get_obj,
    get_str,
    max_items,
    not_found,
    parse_ref,
    require_function,
)
from lambdalite.services.lambda_api.functions import delete_event_configs
from lambdalite.store.errors import AlreadyExists, Missing

_VERSION = re.compile(r"\$LATEST|[0-9]+")


async def publish_version(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    description = get_str(data, "Description")
    if description is not None:
        cfg.check_description(description)
    current = (await require_function(node, request, ref.name)).config
    revision, sha = get_str(data, "RevisionId"), get_str(data, "CodeSha256")
    if revision and revision != current["RevisionId"]:
        raise AwsError(412, "PreconditionFailedException", cfg.PRECONDITION)
    if sha and sha != current["CodeSha256"]:
        raise cfg.invalid(
            f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current['CodeSha256']}). "
            "Please try again with the CodeSHA256 in $LATEST."
        )
    try:
        config = await node.store.publish_version(ref.name, description)
    except Missing:
        raise not_found(node, request, ref.name) from None
    return json_response(config, 201)


def _paged(request: Request, items: list[dict[str, Any]], key: str, root: str) -> Response:
    """Marker paging over a small list: the marker is the last item's key."""
    limit = max_items(request, 50, 10000)
    marker = request.query.get("Marker")
    if marker:
        keys = [item[key] for item in items]
        if marker not in keys:
            raise cfg.invalid(f"Invalid marker: {marker}")
        items = items[keys.index(marker) + 1 :]
    body: dict[str, Any] = {root: items[:limit]}
    if len(items) > limit:
        body["NextMarker"] = items[limit - 1][key]
    return json_response(body)


async def list_versions(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    latest = (await require_function(node, request, ref.name)).config
    items = [
        {**latest, "FunctionArn": latest["FunctionArn"] + ":$LATEST"},
        *await node.store.list_versions(ref.name),
    ]
    return _paged(request, items, "Version", "Versions")


def _alias_arn(node: Node, request: Request, name: str, alias: str) -> str:
    return arn_of(node, request, name, alias)


def _alias_missing(node: Node, request: Request, name: str, alias: str) -> AwsError:
    return AwsError(
        404, "ResourceNotFoundException", f"Cannot find alias arn: {_alias_arn(node, request, name, alias)}"
    )


async def _check_target(node: Node, request: Request, name: str, version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise validation_error(
            version, "functionVersion", r"Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)"
        )
    if version != "$LATEST" and await node.store.get_version(name, version) is None:
        raise not_found(node, request, name, version)
    return version


def _check_routing(data: dict[str, Any]) -> None:
    routing = get_obj(data, "RoutingConfig")
    if routing and routing.get("AdditionalVersionWeights"):
        raise cfg.invalid(
            "lambdalite does not support weighted aliases: RoutingConfig.AdditionalVersionWeights must be empty."
        )


async def create_alias(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    alias = get_str(data, "Name", required=True) or ""
    if not is_alias_name(alias):
        raise validation_error(
            alias, "name", f"Member must satisfy regular expression pattern: {ALIAS_PATTERN}"
        )
    version = get_str(data, "FunctionVersion", required=True) or ""
    description = cfg.check_description(get_str(data, "Description") or "")
    _check_routing(data)
    await require_function(node, request, ref.name)
    await _check_target(node, request, ref.name, version)
    config = {
        "AliasArn": _alias_arn(node, request, ref.name, alias),
        "Name": alias,
        "FunctionVersion": version,
        "Description": description,
        "RevisionId": str(uuid.uuid4()),
    }
    try:
        await node.store.put_alias(ref.name, alias, config, create=True)
    except AlreadyExists:
        raise AwsError(
            409, "ResourceConflictException", f"Alias already exists: {config['AliasArn']}"
        ) from None
    return json_response(config, 201)


async def get_alias(node: Node, request: Request, function_name: str, name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    await require_function(node, request, ref.name)
    config = await node.store.get_alias(ref.name, name)
    if config is None:
        raise _alias_missing(node, request, ref.name, name)
    return json_response(config)


async def update_alias(node: Node, request: Request, function_name: str, name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    await require_function(node, request, ref.name)
    current = await node.store.get_alias(ref.name, name)
    if current is None:
        raise _alias_missing(node, request, ref.name, name)
    revision = get_str(data, "RevisionId")
    if revision and revision != current["RevisionId"]:
        raise AwsError(412, "PreconditionFailedException", cfg.PRECONDITION)
    _check_routing(data)
    config = dict(current)
    if (version := get_str(data, "FunctionVersion")) is not None:
        config["FunctionVersion"] = await _check_target(node, request, ref.name, version)
    if (description := get_str(data, "Description")) is not None:
        config["Description"] = cfg.check_description(description)
    config["RevisionId"] = str(uuid.uuid4())
    try:
        await node.store.put_alias(ref.name, name, config, create=False)
    except Missing:
        raise _alias_missing(node, request, ref.name, name) from None
    return json_response(config)


async def delete_alias(node: Node, request: Request, function_name: str, name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    await require_function(node, request, ref.name)
    if await node.store.delete_alias(ref.name, name):
        await delete_event_configs(node, ref.name, name)
        await node.store.delete_policies(ref.name, name)
    return empty_response(204)


async def list_aliases(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    await require_function(node, request, ref.name)
    items = await node.store.list_aliases(ref.name)
    version = request.query.get("FunctionVersion")
    if version:
        items = [a for a in items if a["FunctionVersion"] == version]
    return _paged(request, items, "Name", "Aliases")
