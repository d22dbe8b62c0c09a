"""Async invoke: accept (validate, queue durably, 202).

The 202 is sent only after the group commit that holds the event returned, so an accepted event
survives a crash. Concurrency is not looked at here: throttling is the queue's business.

Route handlers have the signature `async def h(node, request, **path_params) -> Response`; `ROUTES`
lists (method, path regex, handler) and is included by the Lambda router.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson

from lambdalite import arn
from lambdalite.accept import EMPTY_PAYLOAD, queue_event
from lambdalite.node import Node
from lambdalite.resolve import Resolved, resolve_function
from lambdalite.services.http import AwsError, Request, Response, json_response

EVENT_PAYLOAD_LIMIT_BYTES = 1_048_576
LEGACY_PAYLOAD_LIMIT_BYTES = 262_144


def check_payload(body: bytes, limit_bytes: int = EVENT_PAYLOAD_LIMIT_BYTES) -> bytes:
    """The bytes to queue: size-checked, valid UTF-8 JSON; an empty body is {}."""
    if len(body) > limit_bytes:
        raise AwsError(
            413,
            "RequestEntityTooLargeException",
            f"{len(body)} byte payload is too large for the Event invocation type (limit {limit_bytes} bytes)",
        )
    return json_payload(body)


def json_payload(body: bytes) -> bytes:
    """Valid UTF-8 JSON (parsed once, kept as bytes); an empty body is {}. Sync and async alike."""
    if not body.strip():
        return EMPTY_PAYLOAD
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AwsError(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc}",
        ) from None
    return body


async def accept_event(node: Node, resolved: Resolved, request: Request, payload: bytes | None = None, *,
                       invoked_arn: str | None = None) -> Response:
    """Invoke with X-Amz-Invocation-Type: Event, after the router resolved function + qualifier
    (`payload`: the body already checked by `check_payload`, as Invoke does before resolving)."""
    if payload is None:
        payload = check_payload(request.body)
    request_id = await queue_event(
        node, resolved, payload, request.region, invoked_arn or resolved.unqualified_arn,
        request.headers.get("x-amzn-trace-id")
    )
    return Response(status=202, body=b"", headers=[("x-amzn-RequestId", request_id)], content_type=None)


async def invoke_async_legacy(node: Node, request: Request, function_name: str, **_: str) -> Response:
    """InvokeAsync (2014-11-13): raw JSON body, 256 KB, no qualifier -> 202 {"Status": 202}."""
    ref = arn.parse_function_name(unquote(function_name))
    arn.check_scope(ref, request.region, node.settings.account_id)
    resolved = await resolve_function(node, ref.name, ref.qualifier, request.region)
    payload = check_payload(request.body, LEGACY_PAYLOAD_LIMIT_BYTES)
    invoked = resolved.qualified_arn if ref.qualifier else resolved.unqualified_arn
    request_id = await queue_event(node, resolved, payload, request.region, invoked, request.headers.get("x-amzn-trace-id"))
    return json_response({"Status": 202}, status=202, headers=[("x-amzn-RequestId", request_id)])


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", r"^/2014-11-13/functions/(?P<function_name>[^/]+)/invoke-async/?$", invoke_async_legacy),
]
