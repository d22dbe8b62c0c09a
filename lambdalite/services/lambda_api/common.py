"""Shared pieces of Lambda's operations: name resolution, body parsing, AWS's error shapes."""

from __future__ import annotations

from typing import Any

from lambdalite.arn import (
    FunctionRef,
    check_scope,
    function_arn,
    merge_qualifier,
    parse_function_name,
)
from lambdalite.model.function import FunctionRow
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, parse_json_body, validation_error


def parse_ref(node: Node, request: Request, raw: str, *, allow_qualifier: bool = True) -> FunctionRef:
    """Parse a FunctionName path parameter; ARNs must name this region and account."""
    ref = parse_function_name(raw, allow_qualifier=allow_qualifier)  # NameError_ is AWS's own error
    check_scope(ref, request.region, node.settings.account_id)
    return ref


def qualifier_of(ref: FunctionRef, request: Request) -> str | None:
    """The effective qualifier from the name and `?Qualifier=`."""
    return merge_qualifier(ref, request.query.get("Qualifier"))


def arn_of(node: Node, request: Request, name: str, qualifier: str | None = None) -> str:
    return function_arn(request.region, node.settings.account_id, name, qualifier)


def not_found(node: Node, request: Request, name: str, qualifier: str | None = None) -> AwsError:
    return AwsError(
        404, "ResourceNotFoundException", f"Function not found: {arn_of(node, request, name, qualifier)}"
    )


async def require_function(node: Node, request: Request, name: str) -> FunctionRow:
    row = await node.store.get_function(name)
    if row is None:
        raise not_found(node, request, name)
    return row


def body_object(request: Request) -> dict[str, Any]:
    """The JSON body as an object (an empty body is {})."""
    data = parse_json_body(request.body)
    if not isinstance(data, dict):
        raise AwsError(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json: expected a JSON object",
        )
    return data


def wrong_type(member: str, expected: str) -> AwsError:
    return AwsError(
        400,
        "InvalidRequestContentException",
        f"Could not parse request body into json: Could not parse payload into json: {member} must be {expected}",
    )


def get_str(
    data: dict[str, Any], key: str, *, required: bool = False, member: str | None = None
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise missing(member or _member(key))
        return None
    if not isinstance(value, str):
        raise wrong_type(key, "a string")
    return value


def get_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(key, "an integer")
    return value


def get_bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise wrong_type(key, "a boolean")
    return value


def get_obj(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong_type(key, "an object")
    return value


def missing(member: str) -> AwsError:
    return AwsError(
        400,
        "ValidationException",
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null",
        type_=None,
    )


def _member(key: str) -> str:
    return key[:1].lower() + key[1:]


def max_items(request: Request, default: int, maximum: int, *, refuse_over_max: bool = False) -> int:
    """?MaxItems=: `default` when absent; above `maximum` it is cut down, or refused when asked."""
    raw = request.query.get("MaxItems")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AwsError(400, "InvalidParameterValueException", f"Invalid MaxItems: {raw}") from None
    if value < 1:
        raise validation_error(value, "maxItems", "Member must have value greater than or equal to 1")
    if value > maximum and refuse_over_max:
        raise validation_error(value, "maxItems", f"Member must have value less than or equal to {maximum}")
    return min(value, maximum)
