"""The Lambda Runtime API (contract section 8), one small HTTP server per execution environment.

A hand-rolled asyncio protocol on httptools: a warm invoke is one `GET next` answer and one `POST
response` parsed, so there is no framework, no per-request allocation beyond the body, and keep-alive.
A sandboxed environment's server accepts only connections whose socket belongs to the environment's own
uid (peers.py): any other process on the host, another function included, is refused before it can ask
for an event.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from typing import Protocol, cast

import httptools

from lambdalite.runtime.peers import tcp_socket_uid

PREFIX = b"/2018-06-01/runtime/"
NEXT_PATH = PREFIX + b"invocation/next"
INIT_ERROR_PATH = PREFIX + b"init/error"
INVOCATION_PREFIX = PREFIX + b"invocation/"
ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"

ACCEPTED_BODY = b'{"status":"OK"}'


def _reply(status: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


ACCEPTED = _reply(b"202 Accepted", ACCEPTED_BODY)
INVALID_REQUEST_ID = _reply(b"400 Bad Request",
                            b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}')
NOT_FOUND = _reply(b"404 Not Found", b'{"errorMessage":"Unknown path","errorType":"InvalidRequest"}')
FORBIDDEN = _reply(b"403 Forbidden",
                   b'{"errorMessage":"Not this execution environment","errorType":"AccessDenied"}')
METHOD_NOT_ALLOWED = _reply(b"405 Method Not Allowed",
                            b'{"errorMessage":"Method not allowed","errorType":"InvalidRequest"}')


class RuntimeApiHandler(Protocol):
    """What the server calls; the execution environment implements it."""

    def on_next(self, conn: RuntimeApiConnection) -> None: ...

    def on_result(self, request_id: str, body: bytes, error_type: str | None, is_error: bool) -> bool: ...

    def on_init_error(self, body: bytes, error_type: str | None) -> None: ...

    def on_next_lost(self, conn: RuntimeApiConnection) -> None: ...


def next_response(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    """The answer to `GET next`: the event, its headers, always Content-Type: application/json."""
    head = ["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"]
    for name, value in headers:
        head.append(f"{name}: {value}\r\n")
    head.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "".join(head).encode() + body


class RuntimeApiConnection(asyncio.Protocol):
    """One runtime connection; usually a single keep-alive connection carries every request."""

    __slots__ = ("handler", "uid_for_port", "transport", "parser", "url", "body", "error_type", "waiting_next",
                 "keep_alive")

    def __init__(self, handler: RuntimeApiHandler, uid_for_port: Callable[[int], int] | None = None):
        self.handler = handler
        self.uid_for_port = uid_for_port
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.error_type: str | None = None
        self.waiting_next = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        if self.uid_for_port is not None and not self._own_environment():
            self.transport.write(FORBIDDEN)
            self.transport.close()
            self.transport = None

    def _own_environment(self) -> bool:
        """Whether the peer's socket belongs to the uid this server's environment runs as."""
        assert self.transport is not None and self.uid_for_port is not None
        local = self.transport.get_extra_info("sockname")
        peer = self.transport.get_extra_info("peername")
        if not local or not peer:
            return False
        return tcp_socket_uid(peer[:2], local[:2]) == self.uid_for_port(local[1])

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return  # refused
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiting_next:
            self.waiting_next = False
            self.handler.on_next_lost(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []
        self.error_type = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == ERROR_TYPE_HEADER:
            self.error_type = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        method = self.parser.get_method()
        url = self.url.split(b"?", 1)[0]
        if url == NEXT_PATH:
            if method != b"GET":
                self.send(METHOD_NOT_ALLOWED)
                return
            self.waiting_next = True
            self.handler.on_next(self)
            return
        request_id = b""
        if url.startswith(INVOCATION_PREFIX):
            request_id, _, action = url[len(INVOCATION_PREFIX):].rpartition(b"/")
            if action not in (b"response", b"error"):
                request_id = b""
        if url != INIT_ERROR_PATH and not request_id:
            self.send(NOT_FOUND)
        elif method != b"POST":
            self.send(METHOD_NOT_ALLOWED)
        elif url == INIT_ERROR_PATH:
            self.send(ACCEPTED)
            self.handler.on_init_error(b"".join(self.body), self.error_type)
        else:
            self._result(request_id.decode("latin-1"), b"".join(self.body), url.endswith(b"/error"))

    def _result(self, request_id: str, body: bytes, is_error: bool) -> None:
        accepted = self.handler.on_result(request_id, body, self.error_type, is_error)
        self.send(ACCEPTED if accepted else INVALID_REQUEST_ID)

    def send(self, data: bytes) -> None:
        """Write a complete response; close afterwards when the client asked for it."""
        if self.transport is None:
            return
        self.waiting_next = False
        self.transport.write(data)
        if not self.keep_alive:
            self.transport.close()


async def start_server(handler: RuntimeApiHandler, uid_for_port: Callable[[int], int] | None = None
                       ) -> tuple[asyncio.Server, int]:
    """Listen on 127.0.0.1, an ephemeral port; returns the server and its port. With uid_for_port, only
    sockets owned by uid_for_port(port) may talk to it (the uid is derived from the port, so the check
    holds from the first connection on)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RuntimeApiConnection(handler, uid_for_port), "127.0.0.1", 0,
                                      backlog=16)
    if not server.sockets:  # nothing bound (file descriptors exhausted): the caller's OSError path
        server.close()
        raise OSError(errno.EMFILE, "the Runtime API could not listen")
    port = int(server.sockets[0].getsockname()[1])
    return server, port
