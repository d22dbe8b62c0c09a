"""The events-compatible service (placeholder: filled in by its owner)."""

from __future__ import annotations

import orjson

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response


class EventsService:
    name = "events"

    def __init__(self, node: Node):
        self.node = node

    async def handle(self, request: Request) -> Response:
        raise AwsError(400, "UnknownOperationException", "not implemented yet")

    def error_response(self, error: AwsError, request_id: str) -> Response:
        body = orjson.dumps({"__type": error.code, "message": error.message})
        return Response(error.status, body, [("x-amzn-RequestId", request_id)], "application/x-amz-json-1.0")
