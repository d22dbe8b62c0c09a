"""Lambda's rest-json API (placeholder router: filled in by its owner)."""

from __future__ import annotations

import orjson

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response


class LambdaService:
    name = "lambda"

    def __init__(self, node: Node):
        self.node = node

    async def handle(self, request: Request) -> Response:
        raise AwsError(404, "UnknownOperationException", f"No operation at {request.method} {request.path}")

    def error_response(self, error: AwsError, request_id: str) -> Response:
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code), *error.headers]
        return Response(error.status, orjson.dumps(error.rest_json_body()), headers)
