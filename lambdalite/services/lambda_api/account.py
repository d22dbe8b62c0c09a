"""Reserved concurrency, GetAccountSettings and the recursion config.

AWS keeps at least 100 concurrent executions unreserved (of its default 1000). lambdalite keeps
min(100, account limit // 10), so a small `LAMBDALITE_ACCOUNT_CONCURRENCY` in tests still allows
reservations; with the default 1000 this is AWS's 100.
"""

from __future__ import annotations

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
    body_object,
    get_int,
    missing,
    not_found,
    parse_ref,
    require_function,
)
from lambdalite.store.code import MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES
from lambdalite.store.errors import LimitExceeded, Missing

TOTAL_CODE_SIZE_BYTES = 80_530_636_800
RECURSIVE_LOOP = ("Allow", "Terminate")


def unreserved_minimum(account_limit: int) -> int:
    return min(100, account_limit // 10)


async def put_concurrency(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    reserved = get_int(data, "ReservedConcurrentExecutions")
    if reserved is None:
        raise missing("reservedConcurrentExecutions")
    if reserved < 0:
        raise validation_error(
            reserved, "reservedConcurrentExecutions", "Member must have value greater than or equal to 0"
        )
    await require_function(node, request, ref.name)
    limit = node.settings.account_concurrency
    floor = unreserved_minimum(limit)
    try:
        await node.store.set_reserved_concurrency(ref.name, reserved, max_total=limit - floor)
    except Missing:
        raise not_found(node, request, ref.name) from None
    except LimitExceeded:
        raise cfg.invalid(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
            f"below its minimum value of [{floor}]."
        ) from None
    return json_response({"ReservedConcurrentExecutions": reserved})


async def get_concurrency(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    row = await require_function(node, request, ref.name)
    if row.reserved_concurrency is None:
        return json_response({})
    return json_response({"ReservedConcurrentExecutions": row.reserved_concurrency})


async def delete_concurrency(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    try:
        await node.store.set_reserved_concurrency(ref.name, None)
    except Missing:
        raise not_found(node, request, ref.name) from None
    return empty_response(204)


async def get_account_settings(node: Node, request: Request) -> Response:
    limit = node.settings.account_concurrency
    count, code_bytes = await node.store.code_usage()
    return json_response(
        {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE_BYTES,
                "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": MAX_ZIPPED_BYTES,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - await node.store.reserved_concurrency_total(),
            },
            "AccountUsage": {"TotalCodeSize": code_bytes, "FunctionCount": count},
        }
    )


async def get_recursion(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    row = await require_function(node, request, ref.name)
    return json_response({"RecursiveLoop": row.recursion})


async def put_recursion(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    data = body_object(request)
    mode = data.get("RecursiveLoop")
    if mode is None:
        raise missing("recursiveLoop")
    if mode not in RECURSIVE_LOOP:
        raise AwsError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{mode}' at 'recursiveLoop' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Allow, Terminate]",
            type_=None,
        )
    try:
        await node.store.set_recursion(ref.name, mode)
    except Missing:
        raise not_found(node, request, ref.name) from None
    return json_response({"RecursiveLoop": mode})
