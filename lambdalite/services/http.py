"""The tiny HTTP vocabulary every service speaks: Request, Response, AwsError.

Services are plain async functions `Request -> Response`, so they are testable without a server and
the ASGI adapter (app.py) stays the only place that knows about the wire.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

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

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"


_RANDOM_IDS_PER_READ = 256
_random = b""
_random_lock = threading.Lock()


def new_request_id() -> str:
    """A random (version 4) UUID string, as uuid.uuid4() gives: os.urandom read 256 ids at a time (one
    system call per id was a tenth of the accept path), no UUID object built."""
    global _random
    with _random_lock:
        if not _random:
            _random = os.urandom(16 * _RANDOM_IDS_PER_READ)
        raw = bytearray(_random[:16])
        _random = _random[16:]
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def json_response(
    data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None, content_type: str = "application/json"
) -> Response:
    return Response(status=status, body=orjson.dumps(data), headers=headers or [], content_type=content_type)


def empty_response(status: int = 204, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status=status, body=b"", headers=headers or [], content_type=None)


# Error names whose AWS body uses lower-case "message" (contract section 2).
_LOWER_MESSAGE = frozenset(
    {
        "InvalidParameterValueException",
        "InvalidRequestContentException",
        "RequestTooLargeException",
        "RequestEntityTooLargeException",
        "ResourceConflictException",
        "TooManyRequestsException",
        "UnsupportedMediaTypeException",
        "ResourceInUseException",
        "CodeStorageExceededException",
        "PreconditionFailedException",
    }
)


class AwsError(Exception):
    """An error with AWS's envelope. Raise it anywhere below a service handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
        type_: str | None = "User",
        message_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or []
        self.type_ = type_
        self.message_key = message_key

    def rest_json_body(self) -> dict[str, Any]:
        """Body for rest-json services (Lambda)."""
        body: dict[str, Any] = {}
        if self.code != "ValidationException" and self.type_ is not None:
            body["Type"] = self.type_
        key = self.message_key or ("message" if self.code in _LOWER_MESSAGE else "Message")
        body.update(self.extra)
        body[key] = self.message
        return body


def validation_error(value: Any, member: str, constraint: str) -> AwsError:
    """AWS's ValidationException for one failed member constraint."""
    return AwsError(
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}",
        type_=None,
    )


def parse_json_body(body: bytes, *, code: str = "InvalidRequestContentException") -> Any:
    """Parse a JSON request body; an empty body is {}."""
    if not body or not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AwsError(400, code, f"Could not parse request body into json: {exc}") from None
