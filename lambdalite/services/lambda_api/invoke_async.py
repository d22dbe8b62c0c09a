"""Async invoke: accept (validate, queue durably, 202).

The 202 is sent only after the group commit that holds the event returned, so an accepted event
survives a crash. Concurrency is not looked at here: throttling is the queue's business.

Route handlers have the signature `async def h(node, request, **path_params) -> Response`; `ROUTES`
lists (method, path regex, handler) and is included by the Lambda router.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import unquote

import orjson

from lambdalite import arn, lineage, metrics
from lambdalite.model.event import EVENT_KIND, QueuedEvent, queue_name
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, json_response, new_request_id
from lambdalite.services.lambda_api.common import aws
from lambdalite.store.sqlite import queues

EVENT_PAYLOAD_LIMIT_BYTES = 1_048_576
LEGACY_PAYLOAD_LIMIT_BYTES = 262_144
_EMPTY = b"{}"


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
        return _EMPTY
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AwsError(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc}",
        ) from None
    return body


def add_event(conn: sqlite3.Connection, event: QueuedEvent, payload: bytes) -> None:
    """Queue an event inside the caller's transaction (for callers that combine it with other writes)."""
    queues.send(
        conn,
        kind=EVENT_KIND,
        queue=queue_name(event.function),
        id=event.request_id,
        body=payload,
        attrs=event.to_attrs(),
        at_ms=event.accepted_ms,
    )


async def _queue(node: Node, resolved: Any, payload: bytes, region: str, invoked_arn: str, trace_id: str | None) -> str:
    event = QueuedEvent(
        request_id=new_request_id(),
        function=resolved.name,
        qualifier=resolved.qualifier or arn.LATEST,
        accepted_ms=queues.now_ms(),
        trace_id=trace_id,
        hops=lineage.lineage_count(trace_id),
        region=region,
        invoked_arn=invoked_arn,
    )
    dispatcher = node.dispatcher
    if dispatcher is not None and dispatcher.reserve():
        # This process dispatches and has room: queue the event already leased to it (same durable
        # write), and start it once the 202's commit is done.
        receipt = new_request_id().replace("-", "")[:20]
        try:
            message, claim = await node.store.db.write(lambda c: dispatcher.lease_new(c, event, payload, receipt))
        except BaseException:
            dispatcher.unreserve()
            raise
        dispatcher.adopt(message, claim)
    else:
        await node.store.db.write(lambda c: add_event(c, event, payload))
        node.wake()
    metrics.ASYNC_RECEIVED.labels(resolved.name).inc()
    return event.request_id


async def accept_event(node: Node, resolved: Any, request: Request, payload: bytes | None = None, *,
                       invoked_arn: str | None = None) -> Response:
    """Invoke with X-Amz-Invocation-Type: Event, after the router resolved function + qualifier
    (`payload`: the body already checked by `check_payload`, as Invoke does before resolving)."""
    if payload is None:
        payload = check_payload(request.body)
    request_id = await _queue(
        node, resolved, payload, request.region, invoked_arn or resolved.unqualified_arn,
        request.headers.get("x-amzn-trace-id")
    )
    return Response(status=202, body=b"", headers=[("x-amzn-RequestId", request_id)], content_type=None)


async def invoke_async_legacy(node: Node, request: Request, function_name: str, **_: str) -> Response:
    """InvokeAsync (2014-11-13): raw JSON body, 256 KB, no qualifier -> 202 {"Status": 202}."""
    from lambdalite.services.lambda_api.resolve import resolve_function

    try:
        ref = arn.parse_function_name(unquote(function_name))
        arn.check_scope(ref, request.region, node.settings.account_id)
    except arn.NameError_ as err:
        raise aws(err) from None
    resolved = await resolve_function(node, ref.name, ref.qualifier, request.region)
    payload = check_payload(request.body, LEGACY_PAYLOAD_LIMIT_BYTES)
    invoked = resolved.qualified_arn if ref.qualifier else resolved.unqualified_arn
    request_id = await _queue(node, resolved, payload, request.region, invoked, request.headers.get("x-amzn-trace-id"))
    return json_response({"Status": 202}, status=202, headers=[("x-amzn-RequestId", request_id)])


async def enqueue_event(node: Node, function_arn: str, payload: bytes, region: str,
                        trace_id: str | None = None) -> str:
    """Queue an event for a function from inside lambdalite (EventBridge targets, Lambda destinations).

    `trace_id`: the X-Amzn-Trace-Id of the call that caused it, whose Lineage count becomes the event's
    hops (contract section 10). Returns the event's request id. Raises AwsError (404) when the function or qualifier is missing.
    """
    from lambdalite.services.lambda_api.resolve import resolve_function

    try:
        ref = arn.parse_function_name(function_arn)
    except arn.NameError_ as err:
        raise AwsError(err.status, err.code, err.message) from None
    resolved = await resolve_function(node, ref.name, ref.qualifier, ref.region or region)
    invoked = resolved.qualified_arn if ref.qualifier else resolved.unqualified_arn
    return await _queue(node, resolved, payload or _EMPTY, ref.region or region, invoked, trace_id)


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", r"^/2014-11-13/functions/(?P<function_name>[^/]+)/invoke-async/?$", invoke_async_legacy),
]
