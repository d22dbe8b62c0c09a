"""A lean HTTP/1.1 server on httptools for the API: the accept path's front door.

Why not uvicorn: measured on the accept path (POST -> group-committed insert -> 202), uvicorn's ASGI
layer (a task, message dicts and middleware per request) cost about a third of the throughput; here a
parsed request goes straight to `App.respond`. httptools (llhttp) still does all the parsing.

Per connection, requests are answered in order (HTTP/1.1 pipelining), keep-alive is the default, and
`Expect: 100-continue` is honoured. A request whose client went away still runs to the end (an accepted
write is never cut in half); only its response is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from http import HTTPStatus
from typing import TYPE_CHECKING, cast

import httptools

from lambdalite.services.http import Response

if TYPE_CHECKING:
    from lambdalite.services.app import App

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 70 * 1024 * 1024  # a 50 MB zip, base64 in JSON
MAX_PIPELINED = 32  # requests queued on one connection before we stop reading from it
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def encode_response(response: Response, *, head: bool = False, close: bool = False) -> bytes:
    status = response.status
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown"))]
    for name, value in response.headers:
        lines.append(b"%s: %s" % (name.encode("latin-1"), value.encode("latin-1")))
    if response.content_type is not None:
        lines.append(b"Content-Type: " + response.content_type.encode("latin-1"))
    lines.append(b"Content-Length: %d" % len(response.body))
    if close:
        lines.append(b"Connection: close")
    head_bytes = b"\r\n".join(lines) + b"\r\n\r\n"
    return head_bytes if head else head_bytes + response.body


class _Pending:
    __slots__ = ("method", "url", "headers", "body", "too_large", "keep_alive")

    def __init__(self) -> None:
        self.method = ""
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.too_large = False
        self.keep_alive = True


class HttpConnection(asyncio.Protocol):
    def __init__(self, app: App, connections: set[HttpConnection]):
        self.app = app
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.current = _Pending()
        self.size = 0
        self.queue: deque[_Pending] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.paused = False

    # ---- transport events ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail()
        except httptools.HttpParserError:
            self._fail()

    def _fail(self) -> None:
        if self.transport is not None:
            self.transport.write(_BAD_REQUEST)
            self.transport.close()

    # ---- parser callbacks ---------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.current = _Pending()
        self.size = 0

    def on_url(self, url: bytes) -> None:
        self.current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.current.headers
        headers[key] = f"{headers[key]},{text}" if key in headers else text

    def on_headers_complete(self) -> None:
        if self.current.headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_BODY_BYTES:
            self.current.too_large = True
            self.current.body = []
        elif not self.current.too_large:
            self.current.body.append(body)

    def on_message_complete(self) -> None:
        pending = self.current
        pending.method = self.parser.get_method().decode("latin-1")
        pending.keep_alive = self.parser.should_keep_alive()
        self.queue.append(pending)
        if len(self.queue) >= MAX_PIPELINED and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._serve())

    # ---- answering ----------------------------------------------------------------------------------
    async def _serve(self) -> None:
        try:
            while self.queue:
                pending = self.queue.popleft()
                if self.paused and len(self.queue) < MAX_PIPELINED // 2 and self.transport is not None:
                    self.paused = False
                    self.transport.resume_reading()
                response = await self._respond(pending)
                if self.transport is None:
                    continue  # the client left: the work is done, the answer has nowhere to go
                close = not pending.keep_alive
                self.transport.write(encode_response(response, head=pending.method == "HEAD", close=close))
                if close:
                    self.transport.close()
                    self.queue.clear()
        finally:
            self.worker = None

    async def _respond(self, pending: _Pending) -> Response:
        body = pending.body[0] if len(pending.body) == 1 else b"".join(pending.body)
        raw = pending.url.decode("latin-1")
        path, _, query = raw.partition("?")
        request = self.app.request(pending.method, path, query, pending.headers, body)
        return await self.app.respond(request, pending.too_large)


class HttpServer:
    """Owns the listening socket and its connections."""

    def __init__(self, app: App):
        self.app = app
        self.connections: set[HttpConnection] = set()
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: HttpConnection(self.app, self.connections), host, port, backlog=4096, reuse_address=True
        )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let answers in progress finish (up to grace_s), then close connections."""
        if self.server is not None:
            self.server.close()
        workers = [c.worker for c in self.connections if c.worker is not None]
        if workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*workers, return_exceptions=True), timeout=grace_s)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
