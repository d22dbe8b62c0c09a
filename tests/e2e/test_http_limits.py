"""Slow and greedy HTTP clients (issue 14, finding 6): a request's headers and body each have a deadline
that trickling bytes do not extend, and connections past the limit are refused while existing ones work.
Raw sockets, since every real client sends its request at once.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import LambdaliteProcess, wait_until

HEALTH = b"GET /_lambdalite/health HTTP/1.1\r\nHost: x\r\n\r\n"
TRICKLE_EVERY_S = 0.1
DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaliteProcess]:
    env = {"LAMBDALITE_HTTP_HEADER_TIMEOUT": str(DEADLINE_S), "LAMBDALITE_HTTP_BODY_TIMEOUT": str(DEADLINE_S)}
    proc = LambdaliteProcess(tmp_path_factory.mktemp("http-deadlines") / "data", env=env).start()
    try:
        yield proc
    finally:
        proc.kill()


def connect(server: LambdaliteProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_response(sock: socket.socket) -> bytes:
    """One response (head and Content-Length body) or whatever came before the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def trickle(sock: socket.socket, data: bytes, limit_s: float) -> tuple[bytes, float]:
    """Send one byte per TRICKLE_EVERY_S until the server answers or closes; (its answer, seconds taken)."""
    started_s = time.monotonic()
    for byte in data:
        if time.monotonic() - started_s > limit_s:
            break
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return b"", time.monotonic() - started_s
        readable, _, _ = select.select([sock], [], [], TRICKLE_EVERY_S)  # the trickle's pace
        if readable:
            answer = read_response(sock)
            return answer, time.monotonic() - started_s
    raise AssertionError(f"the server still reads a trickling request after {time.monotonic() - started_s:.1f} s")


def test_trickling_headers_are_cut_at_the_deadline(slow_server: LambdaliteProcess) -> None:
    bystander = connect(slow_server)  # an idle keep-alive connection: not subject to the headers' deadline
    sock = connect(slow_server)
    endless_headers = b"GET /_lambdalite/health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 1000
    answer, elapsed_s = trickle(sock, endless_headers, limit_s=20)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert closed(sock)
    assert DEADLINE_S <= elapsed_s < DEADLINE_S + 5  # cut at the deadline (a generous bound above it)
    for _ in range(3):  # keep-alive: each request gets its own deadline
        bystander.sendall(HEALTH)
        assert read_response(bystander).startswith(b"HTTP/1.1 200 ")
    assert slow_server.client("lambda").list_functions()["Functions"] == []  # prompt clients are unaffected
    wait_until(lambda: "request headers not complete in time" in slow_server.log_text(), timeout_s=10,
               what="a log line for the timed-out connection")
    bystander.close()
    sock.close()


def test_trickling_body_is_cut_at_the_deadline(slow_server: LambdaliteProcess) -> None:
    sock = connect(slow_server)
    sock.sendall(b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n")
    answer, elapsed_s = trickle(sock, b"{" + b" " * 999, limit_s=20)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert closed(sock)
    assert DEADLINE_S <= elapsed_s < DEADLINE_S + 5
    sock.close()


# ---- connection limit -----------------------------------------------------------------------------

LIMIT = 3


def test_connections_past_the_limit_are_refused_while_existing_ones_work(tmp_path: Path) -> None:
    server = LambdaliteProcess(tmp_path / "data", env={"LAMBDALITE_HTTP_MAX_CONNECTIONS": str(LIMIT)}).start()
    try:
        def open_served() -> socket.socket | None:
            """A served connection (the start-up health check's may not be closed on the server yet)."""
            sock = connect(server)
            sock.sendall(HEALTH)
            if read_response(sock).startswith(b"HTTP/1.1 200 "):
                return sock
            sock.close()
            return None

        held = [wait_until(open_served, timeout_s=10, what="a served connection") for _ in range(LIMIT)]

        extra = connect(server)
        refusal = read_response(extra)
        assert refusal.startswith(b"HTTP/1.1 503 "), refusal
        assert b"x-amzn-ErrorType: ServiceUnavailableException" in refusal
        assert b'"__type":"ServiceUnavailableException"' in refusal
        assert closed(extra)
        extra.close()

        for sock in held:  # the existing connections keep working
            sock.sendall(HEALTH)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        wait_until(lambda: "refused (too many connections)" in server.log_text(), timeout_s=10,
                   what="a log line for the refusal")

        held.pop().close()  # room again: a new connection is served once the server saw the close

        held.append(wait_until(open_served, timeout_s=10, what="a new connection served after one closed"))
        for sock in held:
            sock.close()
    finally:
        server.kill()


def test_a_low_open_file_soft_limit_is_raised_so_idle_connections_do_not_break_invocations(
        tmp_path: Path) -> None:
    """A host's usual soft limit (here 256) is below the default connection limit: the server takes the
    hard limit at start, so hundreds of idle connections leave room for a function's environment."""
    import resource

    from tests.e2e.test_lambda_helpers import create

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"the hard open-file limit here ({hard}) leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        server = LambdaliteProcess(tmp_path / "data").start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    idle: list[socket.socket] = []
    try:
        for _ in range(300):
            idle.append(connect(server))
        lam = server.client("lambda")
        create(lam, "after-many-connections")
        answer = lam.invoke(FunctionName="after-many-connections", Payload=b'{"a": 1}')
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    finally:
        for sock in idle:
            sock.close()
        server.kill()
