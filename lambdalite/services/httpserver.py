"""A lean HTTP/1.1 server on httptools for the API: the accept path's front door.

Why not uvicorn: measured on the accept path (POST -> group-committed insert -> 202), uvicorn's ASGI
layer (a task, message dicts and middleware per request) cost about a third of the throughput; here a
parsed request goes straight to `App.respond`. httptools (llhttp) still does all the parsing.

Per connection, requests are answered in order (HTTP/1.1 pipelining), keep-alive is the default, and
`Expect: 100-continue` is honoured. A request whose client went away still runs to the end (an accepted
write is never cut in half); only its response is dropped.

Slow clients are bounded (HttpLimits): a request's headers must arrive within a deadline counted from its
first byte, its body within one counted from the end of its headers (bytes arriving do not extend
either), an idle keep-alive connection is closed, and connections past a maximum are refused with a 503.
One sweeper task checks the deadlines from timestamps the parser already takes, so a request costs no
timer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, cast

import httptools

from lambdalite.services.http import MAX_BODY_BYTES, Response

if TYPE_CHECKING:
    from lambdalite.services.app import App
    from lambdalite.settings import Settings

log = logging.getLogger(__name__)

MAX_URL_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024  # all header names and values of one request
MAX_PIPELINED = 32  # requests queued on one connection before we stop reading from it
IDLE_TIMEOUT_S = 75.0  # keep-alive connections with nothing to do are closed after this
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_INTERNAL_ERROR = Response(
    500, b'{"Type":"Service","Message":"An internal error occurred."}', [("x-amzn-ErrorType", "ServiceException")]
)


_TOO_MANY_BODY = b'{"__type":"ServiceUnavailableException","message":"Too many connections; retry later."}'
_TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n"
    b"x-amzn-ErrorType: ServiceUnavailableException\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TOO_MANY_BODY), _TOO_MANY_BODY)
)
_LOG_EVERY_S = 10.0  # refusals and timeouts are logged in batches: an attack must not flood the log


@dataclass(frozen=True)
class HttpLimits:
    """Bounds on what one client can hold (settings: LAMBDALITE_HTTP_*)."""

    header_timeout_s: float = 30.0
    body_timeout_s: float = 300.0
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(settings.http_header_timeout_s, settings.http_body_timeout_s, settings.http_idle_timeout_s,
                   settings.http_max_connections)

    @property
    def sweep_every_s(self) -> float:
        """How often deadlines are checked: a quarter of the shortest, between 50 ms and 1 s."""
        shortest_s = min(self.header_timeout_s, self.body_timeout_s, self.idle_timeout_s)
        return min(1.0, max(0.05, shortest_s / 4))


def _plain(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % (status, _REASONS[status])


class _Date:
    """The Date header, formatted once a second."""

    second = -1
    value = b""

    @classmethod
    def header(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = b"Date: " + formatdate(now, usegmt=True).encode()
        return cls.value


def encode_response(response: Response, *, head: bool = False, close: bool = False) -> bytes:
    status = response.status
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown")), _Date.header()]
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
    __slots__ = ("method", "url", "headers", "body", "too_large", "keep_alive", "header_bytes")

    def __init__(self) -> None:
        self.method = ""
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.too_large = False
        self.keep_alive = True
        self.header_bytes = 0


class _Reject(Exception):
    """Stop parsing this connection: it was answered and is closing."""


class HttpConnection(asyncio.Protocol):
    def __init__(self, app: App, server: HttpServer):
        self.app = app
        self.server = server
        self.connections = server.connections
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.current = _Pending()
        self.size = 0
        self.queue: deque[_Pending] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.paused = False
        self.closing = False  # answered early (an error); nothing more is read
        self.last_active_s = time.monotonic()  # when bytes last arrived (or a response left)
        # Where the request being read is: 0 between requests, 1 in its headers, 2 in its body; and since when.
        self.phase = 0
        self.phase_since_s = 0.0
        self.from_function = False  # the peer is a function's execution environment (server.function_peer)

    # ---- transport events ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if len(self.connections) >= self.server.limits.max_connections:
            self.closing = True
            self.server.note("refused (too many connections)")
            self.transport.write(_TOO_MANY_CONNECTIONS)
            self.transport.close()
            return
        self.connections.add(self)
        if self.server.function_peer is not None:
            local, peer = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
            self.from_function = bool(local and peer and self.server.function_peer(local[:2], peer[:2]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_active_s = time.monotonic()
        try:
            self.parser.feed_data(data)
        except _Reject:
            pass
        except (httptools.HttpParserUpgrade, httptools.HttpParserError) as exc:
            if isinstance(exc.__context__, _Reject) or self.closing:
                return
            self._reject(400)

    def _reject(self, status: int) -> None:
        """Answer a request we will not read, then close (its body may still be arriving)."""
        self.closing = True
        if self.transport is not None:
            self.transport.write(_plain(status))
            self.transport.close()

    @property
    def idle(self) -> bool:
        return self.worker is None and not self.queue

    def close_idle(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ---- parser callbacks ---------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.current = _Pending()
        self.size = 0
        self.phase, self.phase_since_s = 1, self.last_active_s  # the headers' deadline starts at their first byte

    def on_url(self, url: bytes) -> None:
        self.current.url += url
        if len(self.current.url) > MAX_URL_BYTES:
            self._reject(414)
            raise _Reject()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.header_bytes += len(name) + len(value)
        if self.current.header_bytes > MAX_HEADER_BYTES:
            self._reject(431)
            raise _Reject()
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.current.headers
        headers[key] = f"{headers[key]},{text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self.phase, self.phase_since_s = 2, self.last_active_s
        declared = self.current.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            # Answer now (the service's own 413 envelope) instead of reading a body we would drop.
            pending = self.current
            pending.method = self.parser.get_method().decode("latin-1")
            pending.too_large = True
            pending.keep_alive = False
            self.closing = True
            self.queue.append(pending)
            self._start_worker()
            raise _Reject()
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
        self.phase = 0
        pending = self.current
        pending.method = self.parser.get_method().decode("latin-1")
        pending.keep_alive = self.parser.should_keep_alive()
        self.queue.append(pending)
        if len(self.queue) >= MAX_PIPELINED and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._start_worker()

    def _start_worker(self) -> None:
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
                try:
                    response = await self._respond(pending)
                    if response.stream is not None:
                        await self._stream(response)
                        return
                    close = not pending.keep_alive
                    data = encode_response(response, head=pending.method == "HEAD", close=close)
                except Exception:
                    log.exception("could not answer %s %r", pending.method, pending.url[:200])
                    close = not pending.keep_alive
                    data = encode_response(_INTERNAL_ERROR, close=close)
                if self.transport is None:
                    continue  # the client left: the work is done, the answer has nowhere to go
                self.transport.write(data)
                self.last_active_s = time.monotonic()
                if close:
                    self.transport.close()
                    self.queue.clear()
        finally:
            self.worker = None

    async def _stream(self, response: Response) -> None:
        """Send a streamed body chunk by chunk while the client stays, then close the connection."""
        assert response.stream is not None
        head = encode_response(response, head=True, close=True).replace(b"Content-Length: 0\r\n", b"")
        self.server.streaming.add(self)
        try:
            if self.transport is not None:
                self.transport.write(head)
            async for chunk in response.stream:
                if self.transport is None or self.transport.is_closing():
                    break
                self.transport.write(chunk)
                self.last_active_s = time.monotonic()
        finally:
            aclose = getattr(response.stream, "aclose", None)
            if aclose is not None:
                await aclose()
            self.server.streaming.discard(self)
            if self.transport is not None:
                self.transport.close()
            self.queue.clear()

    def overdue(self, now_s: float) -> str | None:
        """Why this connection must be closed now, if it must."""
        if self.transport is None or self.closing:
            return None
        limits = self.server.limits
        if self.phase == 0:
            if self.idle and now_s - self.last_active_s > limits.idle_timeout_s:
                return "idle"
            return None
        if self.paused:  # we stopped reading (pipelined backlog): the client is not the slow one
            return None
        if self.phase == 1 and now_s - self.phase_since_s > limits.header_timeout_s:
            return "request headers not complete in time (LAMBDALITE_HTTP_HEADER_TIMEOUT)"
        if self.phase == 2 and now_s - self.phase_since_s > limits.body_timeout_s:
            return "request body not complete in time (LAMBDALITE_HTTP_BODY_TIMEOUT)"
        return None

    def time_out(self) -> None:
        """Close a connection whose request is overdue: a 408 when nothing earlier is still being answered."""
        self.closing = True
        if self.transport is None:
            return
        if self.idle:
            self.transport.write(_plain(408))
        self.transport.close()

    async def _respond(self, pending: _Pending) -> Response:
        body = pending.body[0] if len(pending.body) == 1 else b"".join(pending.body)
        raw = pending.url.decode("latin-1").partition("#")[0]
        if raw.startswith(("http://", "https://")):  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        path, _, query = raw.partition("?")
        request = self.app.request(pending.method, path, query, pending.headers, body)
        if self.from_function:
            request.function_caller = "environment"
        return await self.app.respond(request, pending.too_large)


class HttpServer:
    """Owns the listening socket and its connections."""

    def __init__(self, app: App, limits: HttpLimits | None = None,
                 function_peer: Callable[[tuple[str, int], tuple[str, int]], bool] | None = None):
        """`function_peer(local, remote)`: whether a connection comes from a function's environment."""
        self.app = app
        self.limits = limits or HttpLimits()
        self.function_peer = function_peer
        self.connections: set[HttpConnection] = set()
        self.streaming: set[HttpConnection] = set()  # sending a streamed body: closed first on stop
        self.server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._noted: dict[str, int] = {}
        self._noted_at_s = 0.0

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: HttpConnection(self.app, self), host, port, backlog=4096, reuse_address=True
        )
        self._sweeper = loop.create_task(self._sweep_forever())

    def note(self, what: str) -> None:
        """Count a refused or timed-out connection; log the counts at most every _LOG_EVERY_S."""
        self._noted[what] = self._noted.get(what, 0) + 1
        now_s = time.monotonic()
        if now_s - self._noted_at_s >= _LOG_EVERY_S:
            self._flush_notes(now_s)

    def _flush_notes(self, now_s: float) -> None:
        if self._noted:
            summary = ", ".join(f"{count} {what}" for what, count in sorted(self._noted.items()))
            log.warning("HTTP connections closed: %s (%d open, limit %d)", summary, len(self.connections),
                        self.limits.max_connections)
            self._noted.clear()
        self._noted_at_s = now_s

    async def _sweep_forever(self) -> None:
        """Close connections past a deadline (headers, body, idle): a stalled client holds a descriptor."""
        while True:
            await asyncio.sleep(self.limits.sweep_every_s)
            now_s = time.monotonic()
            for connection in list(self.connections):
                reason = connection.overdue(now_s)
                if reason == "idle":
                    connection.close_idle()
                elif reason is not None:
                    self.note(f"timed out: {reason}")
                    connection.time_out()
            if self._noted and now_s - self._noted_at_s >= _LOG_EVERY_S:
                self._flush_notes(now_s)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let answers in progress finish (up to grace_s), then close connections."""
        if self.server is not None:
            self.server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self.streaming):  # a stream has no end to wait for
            if connection.transport is not None:
                connection.transport.close()
        workers = [c.worker for c in self.connections if c.worker is not None]
        if workers:
            await asyncio.wait(workers, timeout=grace_s)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
