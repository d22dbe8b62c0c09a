"""One ASGI app for every AWS service lambdalite speaks, routed per request.

Routing: `X-Amz-Target: AmazonSQS.*` -> sqs, `AWSEvents.*` -> events; otherwise the SigV4 credential
scope's service name; otherwise Lambda's rest-json paths. A raw ASGI callable (no framework) keeps the
per-request overhead to the minimum on the accept path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote

import orjson

from lambdalite.services.http import AwsError, Request, Response, new_request_id

log = logging.getLogger(__name__)

# A Lambda CreateFunction carries a zip of up to 50 MB, base64 in JSON: about 67 MB.
MAX_BODY_BYTES = 70 * 1024 * 1024
_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


class Service(Protocol):
    name: str

    async def handle(self, request: Request) -> Response: ...

    def error_response(self, error: AwsError, request_id: str) -> Response: ...


Extra = Callable[[Request], Awaitable[Response | None]]


def scope_of(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(region, service) from a SigV4 Authorization header, if any."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if not match:
        return None, None
    return match.group(1), match.group(2)


class App:
    """ASGI entry point. `services` maps a service name to its handler; `extra` sees requests first."""

    def __init__(self, services: Mapping[str, Service], default_region: str, extra: list[Extra] | None = None):
        self.services = services
        self.default_region = default_region
        self.extra = extra or []

    def pick(self, request: Request, signed_service: str | None) -> Service:
        target = request.headers.get("x-amz-target", "")
        if target.startswith("AmazonSQS") and "sqs" in self.services:
            return self.services["sqs"]
        if target.startswith("AWSEvents") and "events" in self.services:
            return self.services["events"]
        if signed_service is not None and signed_service in self.services:
            return self.services[signed_service]
        if "sqs" in self.services and request.method == "POST" and (
            request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        ):
            return self.services["sqs"]
        return self.services["lambda"]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body, too_large = await _read_body(receive, headers)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        raw = raw_path.decode("latin-1")
        region, signed_service = scope_of(headers)
        request = Request(
            method=scope["method"],
            path=unquote(raw),
            raw_path=raw,
            query=_parse_query(scope.get("query_string", b"")),
            headers=headers,
            body=body,
            region=region or self.default_region,
            host=headers.get("host", "localhost"),
        )
        response = await self.respond(request, signed_service, too_large)
        await _send(send, response)

    async def respond(self, request: Request, signed_service: str | None, too_large: bool) -> Response:
        for extra in self.extra:
            answer = await extra(request)
            if answer is not None:
                return answer
        service = self.pick(request, signed_service)
        request_id = new_request_id()
        try:
            if too_large:
                raise AwsError(413, "RequestEntityTooLargeException", "Request must be smaller than 70167211 bytes")
            return await service.handle(request)
        except AwsError as err:
            return service.error_response(err, request_id)
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("internal error on %s %s", request.method, request.path)
            fault = AwsError(500, "ServiceException", "An internal error occurred.", type_="Service")
            return service.error_response(fault, request_id)


def _parse_query(raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    out: dict[str, str] = {}
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out[unquote(key.replace("+", " "))] = unquote(value.replace("+", " "))
    return out


async def _read_body(receive: Any, headers: dict[str, str]) -> tuple[bytes, bool]:
    """Read the whole body; past MAX_BODY_BYTES keep draining but drop it."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            too_large = True
            chunks = []
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if too_large:
        return b"", True
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), False


async def _send(send: Any, response: Response) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    if response.content_type is not None:
        headers.append((b"content-type", response.content_type.encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def json_dumps(data: Any) -> bytes:
    return orjson.dumps(data)
