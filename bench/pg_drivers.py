"""asyncpg vs psycopg 3 on lambdalite's accept path: durable 202-equivalent inserts per second.

Each "accept" is one row of the `messages` table (the 202's write), group-committed as the PostgreSQL
store does it: the accepts of one event-loop iteration (and those arriving while earlier batches commit)
go into one transaction (one INSERT ... SELECT FROM unnest, one NOTIFY) committed with
synchronous_commit=on, up to IN_FLIGHT batches at once on their own connections. Both drivers run the
same statements on the same private server, one after the other.

    .venv/bin/python -m bench.pg_drivers [--url postgresql://...] [--seconds 5] [--clients 256]

Without --url it starts a private PostgreSQL (tests/support/postgres.py) with fsync on.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

IN_FLIGHT = 4
BODY = b'{"n": 1}' * 8
_INSERT = """INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms)
             SELECT * FROM unnest({}::text[], {}::text[], {}::text[], {}::bytea[], {}::bytea[], {}::bigint[],
                                  {}::bigint[])"""
Insert = Callable[[list[tuple[Any, ...]]], Awaitable[None]]


class GroupCommit:
    """The store's accept batcher, reduced to its shape: submit a row, wait for its COMMIT."""

    def __init__(self, insert: Insert):
        self.insert = insert
        self.pending: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self.in_flight = 0
        self.scheduled = False

    async def submit(self, row: tuple[Any, ...]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((row, future))
        self._kick()
        await future

    def _kick(self) -> None:
        if not self.scheduled and self.pending and self.in_flight < IN_FLIGHT:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self.scheduled = False
        while self.pending and self.in_flight < IN_FLIGHT:
            batch, self.pending = self.pending, []
            self.in_flight += 1
            asyncio.get_running_loop().create_task(self._commit(batch))

    async def _commit(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[None]]]) -> None:
        try:
            await self.insert([row for row, _ in batch])
            for _, future in batch:
                future.set_result(None)
        except Exception as exc:  # noqa: BLE001 - handed to every caller
            for _, future in batch:
                future.set_exception(exc)
        finally:
            self.in_flight -= 1
            self._kick()


def _row() -> tuple[Any, ...]:
    now = int(time.time() * 1000)
    return ("lambda", "lambda:bench", uuid.uuid4().hex, BODY, None, now, now)


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)]


async def _asyncpg_inserter(url: str) -> tuple[Insert, Callable[[], Awaitable[None]]]:
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=IN_FLIGHT, max_size=IN_FLIGHT,
                                     server_settings={"synchronous_commit": "on"})
    sql = _INSERT.format(*[f"${i}" for i in range(1, 8)])

    async def insert(rows: list[tuple[Any, ...]]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(sql, *_columns(rows))
            await conn.execute("SELECT pg_notify('lambdalite', 'events')")

    return insert, pool.close


async def _psycopg_inserter(url: str) -> tuple[Insert, Callable[[], Awaitable[None]]]:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(url, min_size=IN_FLIGHT, max_size=IN_FLIGHT, open=False,
                               kwargs={"options": "-c synchronous_commit=on"})
    await pool.open(wait=True)
    sql = _INSERT.format(*["%s"] * 7)

    async def insert(rows: list[tuple[Any, ...]]) -> None:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(sql, _columns(rows))
            await conn.execute("SELECT pg_notify('lambdalite', 'events')")

    return insert, pool.close


async def measure(url: str, driver: str, seconds: float, clients: int) -> float:
    make = _asyncpg_inserter if driver == "asyncpg" else _psycopg_inserter
    insert, close = await make(url)
    group = GroupCommit(insert)
    done = 0
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await group.submit(_row())
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - started
    await close()
    return done / elapsed


def _private_url() -> tuple[str, Callable[[], None]]:
    from tests.support.postgres import PrivateServer

    server = PrivateServer(fsync=True).start()
    return server.fresh_database(), server.destroy


def _nothing() -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.pg_drivers")
    parser.add_argument("--url", help="a database with lambdalite's schema (default: a private server)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=256, help="concurrent accepts in flight")
    args = parser.parse_args(argv)
    cleanup: Callable[[], None] = _nothing
    url = args.url
    if not url:
        url, cleanup = _private_url()
    try:
        for driver in ("asyncpg", "psycopg", "asyncpg", "psycopg"):  # twice each, interleaved: warm-up and noise
            rate = asyncio.run(measure(url, driver, args.seconds, args.clients))
            print(f"{driver:8s} {rate:9,.0f} durable inserts/s (group commit, {args.clients} clients)", flush=True)
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
