"""Put/Update/Get/Delete/List FunctionEventInvokeConfig (contract section 4).

`ROUTES` lists (method, path regex, handler) and is included by the Lambda router. Configs are kept per
function qualifier ($LATEST, a version, an alias) in `store/sqlite/event_configs.py`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from lambdalite import arn
from lambdalite.clock import now_ms
from lambdalite.model.event_config import EventConfig
from lambdalite.node import Node
from lambdalite.services.http import (
    AwsError,
    Request,
    Response,
    empty_response,
    json_response,
    parse_json_body,
    validation_error,
)
from lambdalite.services.lambda_api.common import max_items

_BASE = r"^/2019-09-25/functions/(?P<function_name>[^/]+)/event-invoke-config"
NO_FUNCTION = "The function doesn't exist."
NOTHING_TO_SET = "You must specify at least one of error handling or destination setting."
MAX_RETRY_ATTEMPTS = 2
MIN_EVENT_AGE_S, MAX_EVENT_AGE_S = 60, 21600
MAX_LIST_ITEMS = 50
_SIDES = ("OnSuccess", "OnFailure")


def _target(node: Node, request: Request, function_name: str) -> tuple[str, str]:
    """(function name, qualifier) named by the path and ?Qualifier=; $LATEST when none."""
    ref = arn.parse_function_name(unquote(function_name))
    qualifier = arn.merge_qualifier(ref, request.query.get("Qualifier"))
    arn.check_scope(ref, request.region, node.settings.account_id)
    return ref.name, qualifier or arn.LATEST


async def _require_function(node: Node, name: str, qualifier: str, region: str) -> None:
    """404 "The function doesn't exist." unless the function and its qualifier exist."""
    from lambdalite.resolve import resolve_function

    try:
        await resolve_function(node, name, qualifier, region)
    except AwsError as err:
        if err.status == 404:
            raise AwsError(404, "ResourceNotFoundException", NO_FUNCTION) from None
        raise


def _qualified_arn(node: Node, region: str, name: str, qualifier: str) -> str:
    return arn.function_arn(region, node.settings.account_id, name, qualifier)


def _no_config(node: Node, region: str, name: str, qualifier: str) -> AwsError:
    return AwsError(
        404,
        "ResourceNotFoundException",
        f"The function {_qualified_arn(node, region, name, qualifier)} doesn't have an EventInvokeConfig",
    )


def _int_member(body: dict[str, Any], key: str, member: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AwsError(400, "InvalidParameterValueException", f"{key} must be an integer.")
    if value < low:
        raise validation_error(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise validation_error(value, member, f"Member must have value less than or equal to {high}")
    return value


def _destination_config(raw: Any) -> dict[str, Any]:
    """Normalise {"OnSuccess": {"Destination": ARN}, ...}: only the sides given, each {} or {Destination}."""
    if not isinstance(raw, dict):
        raise AwsError(400, "InvalidParameterValueException", "DestinationConfig must be an object.")
    out: dict[str, Any] = {}
    for side in _SIDES:
        if side not in raw:
            continue
        part = {} if raw[side] is None else raw[side]
        if not isinstance(part, dict):
            raise AwsError(400, "InvalidParameterValueException", f"DestinationConfig.{side} must be an object.")
        destination = part.get("Destination")
        if destination is not None and not isinstance(destination, str):
            raise AwsError(400, "InvalidParameterValueException", f"{side}.Destination must be a string.")
        out[side] = {"Destination": destination} if destination else {}
    return out


async def _parse_settings(node: Node, request: Request, name: str, qualifier: str) -> dict[str, Any]:
    """The settings a Put/Update body gives (validated); 400 when it gives none."""
    body = parse_json_body(request.body)
    if not isinstance(body, dict):
        raise AwsError(400, "InvalidRequestContentException", "Could not parse request body into json")
    settings: dict[str, Any] = {}
    retries = _int_member(body, "MaximumRetryAttempts", "maximumRetryAttempts", 0, MAX_RETRY_ATTEMPTS)
    if retries is not None:
        settings["MaximumRetryAttempts"] = retries
    age = _int_member(body, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", MIN_EVENT_AGE_S, MAX_EVENT_AGE_S)
    if age is not None:
        settings["MaximumEventAgeInSeconds"] = age
    if body.get("DestinationConfig") is not None:
        settings["DestinationConfig"] = _destination_config(body["DestinationConfig"])
    if not settings:
        raise AwsError(400, "InvalidParameterValueException", NOTHING_TO_SET)
    if "DestinationConfig" in settings:
        await _validate_destinations(node, name, qualifier, request.region, settings["DestinationConfig"])
    return settings


async def _validate_destinations(node: Node, name: str, qualifier: str, region: str, config: dict[str, Any]) -> None:
    try:
        from lambdalite.destinations.validate import validate_destination_config
    except ImportError:  # destinations not installed in this build: accept, delivery will tell
        return
    await validate_destination_config(node, name, qualifier, region, config)


def _merge(changes: dict[str, Any]) -> Any:
    """Update semantics: given settings replace, absent ones stay; destination sides merge one by one."""

    def merge(current: dict[str, Any]) -> dict[str, Any]:
        merged = dict(current)
        for key, value in changes.items():
            if key == "DestinationConfig":
                merged[key] = {**(current.get(key) or {}), **value}
            else:
                merged[key] = value
        return merged

    return merge


def _shape(node: Node, region: str, config: EventConfig) -> dict[str, Any]:
    destinations = config.config.get("DestinationConfig") or {}
    out: dict[str, Any] = {
        "LastModified": config.last_modified_ms / 1000,
        "FunctionArn": _qualified_arn(node, region, config.function, config.qualifier),
    }
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if config.config.get(key) is not None:
            out[key] = config.config[key]
    out["DestinationConfig"] = {side: destinations.get(side) or {} for side in _SIDES}
    return out


async def put_config(node: Node, request: Request, function_name: str, **_: str) -> Response:
    name, qualifier = _target(node, request, function_name)
    await _require_function(node, name, qualifier, request.region)
    settings = await _parse_settings(node, request, name, qualifier)
    stored = await node.store.put_event_config(name, qualifier, settings, now_ms())
    return json_response(_shape(node, request.region, stored))


async def update_config(node: Node, request: Request, function_name: str, **_: str) -> Response:
    name, qualifier = _target(node, request, function_name)
    await _require_function(node, name, qualifier, request.region)
    changes = await _parse_settings(node, request, name, qualifier)
    stored = await node.store.update_event_config(name, qualifier, _merge(changes), now_ms())
    if stored is None:
        raise _no_config(node, request.region, name, qualifier)
    return json_response(_shape(node, request.region, stored))


async def get_config(node: Node, request: Request, function_name: str, **_: str) -> Response:
    name, qualifier = _target(node, request, function_name)
    stored = await node.store.get_event_config(name, qualifier)
    if stored is None:
        raise _no_config(node, request.region, name, qualifier)
    return json_response(_shape(node, request.region, stored))


async def delete_config(node: Node, request: Request, function_name: str, **_: str) -> Response:
    name, qualifier = _target(node, request, function_name)
    if not await node.store.delete_event_config(name, qualifier):
        raise _no_config(node, request.region, name, qualifier)
    return empty_response(204)


async def list_configs(node: Node, request: Request, function_name: str, **_: str) -> Response:
    name, _qualifier = _target(node, request, function_name)
    await _require_function(node, name, arn.LATEST, request.region)
    limit = max_items(request, MAX_LIST_ITEMS, MAX_LIST_ITEMS, refuse_over_max=True)
    page = await node.store.list_event_configs(name, request.query.get("Marker") or None, limit + 1)
    body: dict[str, Any] = {"FunctionEventInvokeConfigs": [_shape(node, request.region, c) for c in page[:limit]]}
    if len(page) > limit:
        body["NextMarker"] = page[limit - 1].qualifier
    return json_response(body)


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", _BASE + r"/list/?$", list_configs),
    ("PUT", _BASE + r"/?$", put_config),
    ("POST", _BASE + r"/?$", update_config),
    ("GET", _BASE + r"/?$", get_config),
    ("DELETE", _BASE + r"/?$", delete_config),
]
