"""Async invoke: accept (validate, queue durably, 202) — placeholder until its owner fills it in.

Route handlers have the signature `async def h(node, request, **path_params) -> Response`; `ROUTES`
lists (method, path regex, handler) and is included by the Lambda router.
"""

from __future__ import annotations

from typing import Any

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response

ROUTES: list[tuple[str, str, Any]] = []


async def accept_event(node: Node, resolved: Any, request: Request) -> Response:
    """Invoke with X-Amz-Invocation-Type: Event, after the router resolved function + qualifier."""
    raise AwsError(400, "InvalidParameterValueException", "Event invocations are not available yet")


async def enqueue_event(node: Node, function_arn: str, payload: bytes, region: str) -> str:
    """Queue an event for a function from inside lambdalite (EventBridge targets, Lambda destinations).

    Returns the event's request id.
    """
    raise NotImplementedError
