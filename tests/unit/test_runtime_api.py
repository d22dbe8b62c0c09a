"""The Runtime API server speaking HTTP/1.1 over a real loopback socket (handler records the calls)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
from typing import Any

from lambdalite.runtime.peers import tcp_socket_uid
from lambdalite.runtime.runtime_api import RuntimeApiConnection, next_response, start_server


class Recorder:
    """A handler that answers `next` with a canned event and accepts one request id."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.waiting: RuntimeApiConnection | None = None

    def on_next(self, conn: RuntimeApiConnection) -> None:
        self.calls.append(("next",))
        self.waiting = conn

    def deliver(self) -> None:
        assert self.waiting is not None
        self.waiting.send(next_response(b'{"k":1}', [("Lambda-Runtime-Aws-Request-Id", "req-1"),
                                                      ("Lambda-Runtime-Client-Context", '{"custom":{}}')]))

    def on_result(self, request_id: str, body: bytes, error_type: str | None, is_error: bool) -> bool:
        self.calls.append(("result", request_id, body, error_type, is_error))
        return request_id == "req-1"

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        self.calls.append(("init_error", body, error_type))

    def on_next_lost(self, conn: RuntimeApiConnection) -> None:
        self.calls.append(("lost",))


def _client_session(port: int) -> list[tuple[int, dict[str, str], bytes]]:
    """One keep-alive connection: next, response, bad id, error, init error, unknown path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers = []

    def call(method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> None:
        conn.request(method, "/2018-06-01/runtime" + path, body, headers or {})
        response = conn.getresponse()
        answers.append((response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()))

    call("GET", "/invocation/next")
    call("POST", "/invocation/req-1/response", b'{"ok":true}')
    call("POST", "/invocation/other/response", b"{}")
    call("POST", "/invocation/req-1/error", b'{"errorType":"X"}', {"Lambda-Runtime-Function-Error-Type": "X"})
    call("POST", "/init/error", b'{"errorType":"Runtime.ImportModuleError"}',
         {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    call("GET", "/nothing")
    conn.close()
    return answers


def test_runtime_api_round_trip() -> None:
    recorder = Recorder()

    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        server, port = await start_server(recorder)
        loop = asyncio.get_running_loop()
        session = loop.run_in_executor(None, _client_session, port)
        while recorder.waiting is None:  # the long poll is parked until we deliver
            await asyncio.sleep(0.005)
        recorder.deliver()
        answers = await session
        server.close()
        return answers

    answers = asyncio.run(scenario())
    status, headers, body = answers[0]
    assert status == 200 and body == b'{"k":1}'
    assert headers["content-type"] == "application/json"
    assert headers["lambda-runtime-aws-request-id"] == "req-1"
    assert headers["lambda-runtime-client-context"] == '{"custom":{}}'
    assert answers[1][0] == 202 and json.loads(answers[1][2]) == {"status": "OK"}
    assert answers[2][0] == 400 and json.loads(answers[2][2])["errorType"] == "InvalidRequestID"
    assert answers[3][0] == 202 and answers[4][0] == 202
    assert answers[5][0] == 404
    assert recorder.calls[:5] == [
        ("next",),
        ("result", "req-1", b'{"ok":true}', None, False),
        ("result", "other", b"{}", None, False),
        ("result", "req-1", b'{"errorType":"X"}', "X", True),
        ("init_error", b'{"errorType":"Runtime.ImportModuleError"}', "Runtime.ImportModuleError"),
    ]


def test_parked_next_reports_a_lost_connection() -> None:
    recorder = Recorder()

    async def scenario() -> list[tuple[Any, ...]]:
        server, port = await start_server(recorder)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        while recorder.waiting is None:
            await asyncio.sleep(0.005)
        writer.close()
        while ("lost",) not in recorder.calls:
            await asyncio.sleep(0.005)
        server.close()
        return recorder.calls

    assert asyncio.run(scenario()) == [("next",), ("lost",)]


def _next_from(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        return conn.getresponse().status
    except (ConnectionError, http.client.RemoteDisconnected):
        return 0
    finally:
        conn.close()


def test_only_sockets_of_the_environments_uid_are_served() -> None:
    """With uid_for_port, the server asks the kernel who owns each peer socket: ours (this test's uid)
    is served, and the same request is refused when the environment's uid is another one."""
    theirs, ours = Recorder(), Recorder()

    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        refusing, refusing_port = await start_server(theirs, lambda port: os.getuid() + 1)
        refused = await loop.run_in_executor(None, _next_from, refusing_port)
        serving, serving_port = await start_server(ours, lambda port: os.getuid())
        served = loop.run_in_executor(None, _next_from, serving_port)
        while ours.waiting is None:
            await asyncio.sleep(0.005)
        ours.deliver()
        refusing.close()
        serving.close()
        return refused, await served

    refused, served = asyncio.run(scenario())
    assert refused == 403 and theirs.calls == []
    assert served == 200 and ours.calls == [("next",)]


def test_peer_uid_is_the_kernels_answer() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.create_connection(listener.getsockname()) as client:
        accepted, _ = listener.accept()
        with accepted:
            assert tcp_socket_uid(client.getsockname(), listener.getsockname()) == os.getuid()
            assert tcp_socket_uid(("127.0.0.1", 1), listener.getsockname()) is None  # no such socket
