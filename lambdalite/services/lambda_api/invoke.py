"""Invoke (contract section 1): RequestResponse and DryRun here; Event goes to invoke_async.accept_event.

A function's failure is a 200 with X-Amz-Function-Error. When lambdalite itself cannot run the function
(the environment did not start or was lost: Status.SYSTEM_ERROR) the caller gets 500 ServiceException,
as AWS answers for its own faults; boto3 retries those by itself.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from lambdalite import lineage, metrics
from lambdalite.invocation import run_in_slot
from lambdalite.model.run import InvokeRequest, InvokeResult, Status
from lambdalite.node import Node
from lambdalite.policy import recursion_stops
from lambdalite.resolve import Resolved, resolve_function
from lambdalite.services.http import AwsError, Request, Response, empty_response, new_request_id
from lambdalite.services.lambda_api import invoke_async

MAX_SYNC_PAYLOAD_BYTES = 6_291_456
MAX_CLIENT_CONTEXT_BYTES = 3583
_TYPES = ("RequestResponse", "Event", "DryRun")


def _enum_error(value: str, member: str, allowed: str) -> AwsError:
    return AwsError(
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {allowed}",
        type_=None,
    )


def _payload(body: bytes) -> bytes:
    """The event bytes as the function gets them: validated JSON, {} when empty."""
    if len(body) > MAX_SYNC_PAYLOAD_BYTES:
        raise AwsError(
            413,
            "RequestEntityTooLargeException",
            f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
        )
    return invoke_async.json_payload(body)


def _client_context(raw: str | None) -> str | None:
    """X-Amz-Client-Context: base64 JSON -> the JSON text the runtime passes on."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CLIENT_CONTEXT_BYTES:
        raise AwsError(
            400,
            "InvalidParameterValueException",
            f"Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes",
        )
    try:
        text = base64.b64decode(raw, validate=True).decode()
        orjson.loads(text)
    except (binascii.Error, ValueError):
        raise AwsError(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        ) from None
    return text


async def invoke(node: Node, request: Request, function_name: str) -> Response:
    invocation_type = request.headers.get("x-amz-invocation-type") or "RequestResponse"
    if invocation_type not in _TYPES:
        raise _enum_error(invocation_type, "invocationType", "[Event, RequestResponse, DryRun]")
    # The request itself is checked before the function is looked up, as AWS's front door does.
    if invocation_type == "Event":
        payload = invoke_async.check_payload(request.body)
        resolved = await resolve_function(node, function_name, request.query.get("Qualifier"), request.region)
        return await invoke_async.accept_event(node, resolved, request, payload,
                                               invoked_arn=_invoked_arn(resolved, function_name, request))
    payload = _payload(request.body)
    resolved = await resolve_function(node, function_name, request.query.get("Qualifier"), request.region)
    request_id = new_request_id()
    if invocation_type == "DryRun":
        return empty_response(204, [("x-amzn-RequestId", request_id)])
    log_type = request.headers.get("x-amz-log-type")
    if log_type not in (None, "", "None", "Tail"):
        raise _enum_error(log_type, "logType", "[None, Tail]")
    run = InvokeRequest(
        request_id=request_id,
        payload=payload,
        invoked_arn=_invoked_arn(resolved, function_name, request),
        client_context=_client_context(request.headers.get("x-amz-client-context")),
        trace_id=_trace_header(resolved, request.headers.get("x-amzn-trace-id")),
        tail_log=log_type == "Tail",
    )
    result = await run_sync(node, resolved, run)
    return _answer(resolved, run, result)


RECURSION_MESSAGE = ("Lambda has detected your function being invoked in a recursive loop with other AWS "
                     "resources and stopped your function's invocation.")


def _trace_header(resolved: Resolved, header: str | None) -> str:
    """The function's trace header: the caller's, its Lineage count one up; 400 past the loop limit."""
    hops = lineage.lineage_count(header)
    if recursion_stops(hops, resolved.recursion):
        metrics.RECURSION_DROPPED.labels(resolved.name).inc()
        raise AwsError(400, "RecursiveInvocationException", RECURSION_MESSAGE)
    return lineage.with_lineage(header, hops + 1, lineage.lineage_tag(resolved.name))


def _invoked_arn(resolved: Resolved, function_name: str, request: Request) -> str:
    """What the function's context shows: qualified only when the caller named a qualifier (in
    ?Qualifier= or in the name: `f:q`, `ACCOUNT:function:f:q`, `arn:...:function:f:q`; resolve_function
    already validated the name, so counting its colons tells)."""
    named = bool(request.query.get("Qualifier")) or function_name.count(":") in (1, 3, 7)
    return resolved.qualified_arn if named else resolved.unqualified_arn


async def run_sync(node: Node, resolved: Resolved, run: InvokeRequest) -> InvokeResult:
    """Take a concurrency slot (or 429), run in an environment, release the slot."""
    slot = await node.store.acquire_slot(resolved.name, resolved.reserved_concurrency)
    labels = (resolved.name,)
    if isinstance(slot, str):
        metrics.THROTTLES.labels(*labels).inc()
        raise AwsError(
            429,
            "TooManyRequestsException",
            "Rate Exceeded.",
            extra={"Reason": slot},
            headers=[("Retry-After", "1")],
        )
    return await run_in_slot(node, resolved, run, slot)


def _answer(resolved: Resolved, run: InvokeRequest, result: InvokeResult) -> Response:
    if result.status is Status.SYSTEM_ERROR:
        detail = result.payload.decode(errors="replace")[:1024]
        raise AwsError(
            500,
            "ServiceException",
            f"Lambda could not run the function ({result.error_type or 'unknown error'}): {detail}",
            type_="Service",
        )
    headers = [("x-amzn-RequestId", run.request_id), ("X-Amz-Executed-Version", resolved.executed_version)]
    if result.function_error:
        headers.append(("X-Amz-Function-Error", result.function_error))
    if run.tail_log:
        tail = result.log_tail.encode()[-4096:]
        headers.append(("X-Amz-Log-Result", base64.b64encode(tail).decode()))
    return Response(200, result.payload, headers, "application/json")
