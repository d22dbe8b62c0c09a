"""The tiny HTTP vocabulary every service speaks: Request, Response, AwsError.

Services are plain async functions `Request -> Response`, so they are testable without a server and
the ASGI adapter (app.py) stays the only place that knows about the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from lambdalite.faults import Fault
from lambdalite.faults import validation_error as validation_error
from lambdalite.request_ids import new_request_id as new_request_id
from lambdalite.settings import DEFAULT_REGION


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded path
    raw_path: str  # as sent (still percent-encoded)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    region: str = DEFAULT_REGION
    host: str = "localhost"
    signed_service: str | None = None  # the SigV4 credential scope's service, when signed
    raw_query: str = ""  # as sent (still percent-encoded): what SigV4 signed
    # Who sent it, when a function did: "environment" (its connection comes from a sandboxed environment's
    # uid) or the role ARN its minted keys are for. Functions reach only the data plane (services/auth.py).
    function_caller: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"
    # A body sent as it is produced, until it ends or the client leaves (server-sent events); then the
    # connection closes (no Content-Length).
    stream: AsyncIterator[bytes] | None = None


def json_response(
    data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None, content_type: str = "application/json"
) -> Response:
    return Response(status=status, body=orjson.dumps(data), headers=headers or [], content_type=content_type)


def empty_response(status: int = 204, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status=status, body=b"", headers=headers or [], content_type=None)


AwsError = Fault  # services raise it by this name; one error tree (faults.py)
MAX_BODY_BYTES = 70 * 1024 * 1024  # a 50 MB zip, base64 in JSON


def parse_json_body(body: bytes, *, code: str = "InvalidRequestContentException") -> Any:
    """Parse a JSON request body; an empty body is {}."""
    if not body or not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AwsError(400, code, f"Could not parse request body into json: {exc}") from None
