"""PostgreSQL connections: one asyncpg pool per process (per event loop), transactions, and what a
database that cannot be reached looks like to the API (`StoreUnavailable`, a 5xx ServiceException).

Why these choices: a durable write commits with `synchronous_commit=on` (the 202's promise: the event
is on disk, and on a synchronous standby when one is configured); writes whose loss would only repeat
work (leases, slot bookkeeping: at-least-once redelivers them) commit with it off, as SQLite's
`durable=False` does. Concurrent transactions of many nodes are the normal case here: operations lock
what they read-modify-write (FOR UPDATE, an advisory lock for slots) and a deadlock or serialization
failure is retried a few times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import asyncpg

from lambdalite.store.errors import StoreUnavailable
from lambdalite.store.postgres.migrate import migrate, migrations, missing

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn: TypeAlias = Any  # asyncpg.Connection (asyncpg ships no type hints)
POOL_MAX = 10
CONNECT_TIMEOUT_S = 5.0
# A statement that has not answered by then means a database (or network) that hangs: the request gets
# StoreUnavailable instead of waiting for ever; every statement lambdalite runs takes milliseconds.
STATEMENT_TIMEOUT_S = 30.0
_RETRIES = 5
_BEGIN_DURABLE = "BEGIN"
_BEGIN_LAZY = "BEGIN; SET LOCAL synchronous_commit = off"
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
# What a database that went away (or never came) raises; anything else is a bug or a refusal.
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
)


class PgDatabase:
    """A lazily opened pool: the first use in an event loop connects (and migrates, unless read-only)."""

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = url
        self.read_only = read_only
        self._pool: asyncpg.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None

    async def pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        if self._loop is not loop:
            self._drop_pool()
            self._opening = asyncio.Lock()
            self._loop = loop
        assert self._opening is not None
        async with self._opening:
            if self._pool is None:
                self._pool = await self._open()
        return self._pool

    async def _open(self) -> asyncpg.Pool:
        try:
            conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
            try:
                if self.read_only:  # a reader (the CLI) never migrates: it says what to do, not an SQL error
                    _require_schema(await missing(conn))
                else:
                    await migrate(conn)
            finally:
                await conn.close()
            settings = {"application_name": "lambdalite", "synchronous_commit": "on"}
            if self.read_only:
                settings["default_transaction_read_only"] = "on"
            pool = await asyncpg.create_pool(self.url, min_size=1, max_size=POOL_MAX, timeout=CONNECT_TIMEOUT_S,
                                             command_timeout=STATEMENT_TIMEOUT_S, server_settings=settings,
                                             reset=_keep_session)
        except UNREACHABLE as exc:  # not logged: the caller says it (`serve` in one line, requests as 500s)
            raise StoreUnavailable(describe(exc)) from exc
        assert pool is not None
        return pool

    def _drop_pool(self) -> None:
        if self._pool is not None:
            try:
                self._pool.terminate()
            except RuntimeError:  # its event loop is closed
                log.debug("pool of a closed loop", exc_info=True)
        self._pool = None

    async def write(self, fn: Callable[[Conn], Awaitable[T]], *, durable: bool = True) -> T:
        """Run `fn` in a transaction of its own; return once committed (durably unless `durable=False`).

        A write once started runs to its end even if the caller is cancelled (a loop stopping right after
        its work): as on SQLite, whose writer thread commits what it was handed."""
        return await asyncio.shield(asyncio.ensure_future(self._write(fn, durable)))

    async def _write(self, fn: Callable[[Conn], Awaitable[T]], durable: bool) -> T:
        for attempt in range(_RETRIES):
            try:
                pool = await self.pool()
                async with pool.acquire() as conn:
                    return await _in_transaction(conn, fn, durable)
            except _RETRYABLE:
                if attempt == _RETRIES - 1:
                    raise
                await asyncio.sleep(0.005 * (attempt + 1))
            except UNREACHABLE as exc:
                raise unavailable(exc) from exc
        raise AssertionError("unreachable")

    async def read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `fn` in one read-only snapshot (several statements see the same data)."""
        try:
            pool = await self.pool()
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                return await fn(conn)
        except UNREACHABLE as exc:
            raise unavailable(exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return list(await (await self.pool()).fetch(sql, *args))
        except UNREACHABLE as exc:
            raise unavailable(exc) from exc

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        try:
            return await (await self.pool()).fetchrow(sql, *args)
        except UNREACHABLE as exc:
            raise unavailable(exc) from exc

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await (await self.pool()).fetchval(sql, *args)
        except UNREACHABLE as exc:
            raise unavailable(exc) from exc

    def close(self) -> None:
        """Close the pool (abruptly if its loop is gone: every commit has returned by then)."""
        pool, loop = self._pool, self._loop
        self._pool = None
        if pool is None:
            return
        if loop is not None and not loop.is_closed() and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                loop.create_task(_close_quietly(pool))
                return
        try:
            pool.terminate()
        except RuntimeError:  # its event loop is closed: the sockets go with it, the server notices
            log.debug("pool of a closed loop", exc_info=True)


def _require_schema(lacking: list[str]) -> None:
    if not lacking:
        return
    start = "start a `lambdalite serve` or `worker` of this version on it once"
    if len(lacking) == len(migrations()):
        raise StoreUnavailable(f"the database holds no lambdalite schema yet: {start}")
    raise StoreUnavailable(f"the database's lambdalite schema is older than this version (missing "
                           f"{', '.join(lacking)}): {start}")


async def _in_transaction(conn: Conn, fn: Callable[[Conn], Awaitable[T]], durable: bool) -> T:
    """BEGIN (with its commit mode in the same round trip), `fn`, COMMIT; ROLLBACK when anything fails.

    Written out instead of asyncpg's `conn.transaction()`, which spends a round trip on BEGIN and another
    on SET LOCAL: a write here is a handful of statements, so each round trip is a visible share."""
    await conn.execute(_BEGIN_DURABLE if durable else _BEGIN_LAZY)
    try:
        result = await fn(conn)
        await conn.execute("COMMIT")
    except BaseException:
        if not conn.is_closed() and conn.is_in_transaction():
            try:
                await conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - broken, or still cancelling a timed-out statement: replaced
                conn.terminate()
        raise
    return result


async def _keep_session(conn: Conn) -> None:
    """The pool's reset on release: nothing. asyncpg's default (unlock all advisory locks, CLOSE ALL,
    UNLISTEN *, RESET ALL) is one more round trip per write, and pool connections hold no session state:
    locks are transaction-level, settings SET LOCAL, LISTEN is on listen.py's own connection. An open
    transaction is still rolled back by asyncpg before this runs."""


async def _close_quietly(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=5)
    except Exception:  # closing at shutdown: nothing left to tell
        log.debug("pool close", exc_info=True)
        pool.terminate()


_WARN_EVERY_S = 5.0
_last_warning_s = float("-inf")


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The fault a request answers with; the cause is logged (at most every few seconds: an outage
    fails every request)."""
    global _last_warning_s
    now_s = time.monotonic()
    if now_s - _last_warning_s >= _WARN_EVERY_S:
        _last_warning_s = now_s
        log.warning("the database cannot be reached: %s", describe(exc), exc_info=isinstance(exc, asyncpg.InterfaceError))
    return StoreUnavailable(describe(exc))


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
