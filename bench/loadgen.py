"""A lean HTTP/1.1 keep-alive load generator for lambdalite's Invoke (asyncio + uvloop, raw sockets).

boto3 costs more CPU per request than the server does, so it would measure itself. This client builds
each request with one bytes format, parses only the status line and Content-Length, and runs in its own
process. Modes (each prints one JSON object on stdout):

  accept  --seconds S --connections C         async invokes for S seconds; counts 202s
  send    --count N --connections C           N async invokes as fast as they are accepted
  paced   --count N --rate R                  N async invokes at R per second (send time in each event)
  sync    --count N                           N sequential RequestResponse invokes; the first is the cold one
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any, cast

import orjson

from bench.sink import event_bytes

INVOKE_PATH = "/2015-03-31/functions/%s/invocations"


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.function_error = False  # the last response carried X-Amz-Function-Error

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports don't subclass asyncio's

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        length = 0
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17:line_end if line_end > 0 else None])
        total = head_end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(self.buffer[9:12])
        self.function_error = b"\r\nx-amz-function-error:" in head
        body = bytes(self.buffer[head_end + 4:total])
        del self.buffer[:total]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def build_request(host: str, port: int, function: str, body: bytes, invocation_type: str) -> bytes:
    return (b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nX-Amz-Invocation-Type: %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s") % (
        (INVOKE_PATH % function).encode(), host.encode(), port, invocation_type.encode(), len(body), body)


async def connect(host: str, port: int) -> Connection:
    _, conn = await asyncio.get_running_loop().create_connection(Connection, host, port)
    return conn


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q / 100 * len(sorted_values)))]


async def run_accept(args: argparse.Namespace) -> dict[str, Any]:
    """Keep C connections busy for S seconds; the window opens after the connections are made."""
    conns = [await connect(args.host, args.port) for _ in range(args.connections)]
    statuses: Counter[int] = Counter()
    latencies_s: list[float] = []
    end = time.perf_counter() + args.seconds

    async def loop(conn: Connection, worker: int) -> None:
        i = worker
        while time.perf_counter() < end:
            raw = build_request(args.host, args.port, args.function, event_bytes(i, 0.0), "Event")
            t0 = time.perf_counter()
            try:
                status, _ = await conn.request(raw)
            except ConnectionError:
                statuses[0] += 1
                return
            latencies_s.append(time.perf_counter() - t0)
            statuses[status] += 1
            i += args.connections

    start = time.perf_counter()
    await asyncio.gather(*(loop(c, w) for w, c in enumerate(conns)))
    elapsed_s = time.perf_counter() - start
    latencies_s.sort()
    return {"mode": "accept", "elapsed_s": elapsed_s, "statuses": dict(statuses),
            "accepted_per_s": statuses[202] / elapsed_s, "connections": args.connections,
            "latency_p50_ms": percentile(latencies_s, 50) * 1e3, "latency_p99_ms": percentile(latencies_s, 99) * 1e3}


async def run_send(args: argparse.Namespace) -> dict[str, Any]:
    """Send exactly N events over C connections; report when the first was sent and the last accepted."""
    conns = [await connect(args.host, args.port) for _ in range(args.connections)]
    statuses: Counter[int] = Counter()
    next_id = iter(range(args.count))
    first_sent_s = time.time()

    async def loop(conn: Connection) -> None:
        for event_id in next_id:
            raw = build_request(args.host, args.port, args.function, event_bytes(event_id, time.time()), "Event")
            try:
                status, _ = await conn.request(raw)
            except ConnectionError:
                statuses[0] += 1
                return
            statuses[status] += 1

    await asyncio.gather(*(loop(c) for c in conns))
    return {"mode": "send", "first_sent_s": first_sent_s, "last_accepted_s": time.time(),
            "statuses": dict(statuses), "count": args.count}


async def run_paced(args: argparse.Namespace) -> dict[str, Any]:
    """N events at a fixed rate; each starts on schedule on a free connection from a small pool."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(args.connections):
        pool.put_nowait(await connect(args.host, args.port))
    statuses: Counter[int] = Counter()
    late = 0
    start = time.perf_counter() + 0.05

    async def one(event_id: int) -> None:
        conn = await pool.get()
        try:
            raw = build_request(args.host, args.port, args.function, event_bytes(event_id, time.time()), "Event")
            status, _ = await conn.request(raw)
            statuses[status] += 1
        finally:
            pool.put_nowait(conn)

    tasks = []
    for event_id in range(args.count):
        delay_s = start + event_id / args.rate - time.perf_counter()
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        elif delay_s < -0.005:
            late += 1
        tasks.append(asyncio.ensure_future(one(event_id)))
    await asyncio.gather(*tasks)
    return {"mode": "paced", "statuses": dict(statuses), "late_sends": late, "count": args.count}


async def run_sync(args: argparse.Namespace) -> dict[str, Any]:
    """Sequential RequestResponse invokes on one connection: the first is the cold start."""
    conn = await connect(args.host, args.port)
    durations_ms: list[float] = []
    statuses: Counter[int] = Counter()
    first_body = b""
    function_errors = 0
    for i in range(args.count):
        raw = build_request(args.host, args.port, args.function, event_bytes(i, time.time()), "RequestResponse")
        t0 = time.perf_counter()
        status, body = await conn.request(raw)
        durations_ms.append((time.perf_counter() - t0) * 1e3)
        statuses[status] += 1
        function_errors += conn.function_error
        if i == 0:
            first_body = body
    warm = sorted(durations_ms[1:])
    return {"mode": "sync", "statuses": dict(statuses), "cold_ms": durations_ms[0] if durations_ms else None,
            "warm_p50_ms": percentile(warm, 50), "warm_p99_ms": percentile(warm, 99),
            "warm_count": len(warm), "function_errors": function_errors, "first_body": first_body[:300].decode(errors="replace")}


MODES = {"accept": run_accept, "send": run_send, "paced": run_paced, "sync": run_sync}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(MODES[args.mode](args))
    else:
        result = uvloop.run(MODES[args.mode](args))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
