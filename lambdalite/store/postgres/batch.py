"""Group commit: every write of one kind submitted in one event-loop iteration (and those that arrive while
earlier batches commit) goes into one transaction: one statement per table for all of them, one COMMIT.
Accepts use it (many 202s, one durable COMMIT), and so do the ends of attempts (a worker finishing
hundreds of events a second pays for one transaction, not hundreds).

A batch that fails with a database error (one row's fault, most likely) is retried item by item, so the
error reaches its own caller only; an unreachable database fails every caller of the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import asyncpg

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

T = TypeVar("T")
R = TypeVar("R")
MAX_IN_FLIGHT = 4  # batches committing at once; more arrivals wait and join the next batch
MAX_BATCH = 2048

RunBatch = Callable[["Conn", list[T]], Awaitable[list[R]]]


class Batcher(Generic[T, R]):
    """`submit(item)` returns what `run(conn, batch)` gave for that item, once its batch has committed."""

    def __init__(self, db: PgDatabase, run: RunBatch[T, R], *, durable: bool):
        self.db = db
        self.run = run
        self.durable = durable
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight = 0
        self._scheduled = False

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled and self._in_flight < MAX_IN_FLIGHT:
            self._scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._scheduled = False
        while self._pending and self._in_flight < MAX_IN_FLIGHT:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._commit(batch))

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            try:
                results = await self.db.write(lambda c: self.run(c, items), durable=self.durable)
                outcomes: list[tuple[R | None, BaseException | None]] = [(r, None) for r in results]
            except asyncpg.PostgresError as exc:
                outcomes = await self._retried_alone(items, exc)
            except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
                outcomes = [(None, exc)] * len(items)
            for (_, future), (value, error) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)  # type: ignore[arg-type]  # R, set with error None
        finally:
            self._in_flight -= 1
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._start)

    async def _retried_alone(self, items: list[T], exc: BaseException) -> list[tuple[R | None, BaseException | None]]:
        """After a batch's database error: each item alone, so the error stays with its own caller."""
        if len(items) == 1:
            return [(None, exc)]
        try:
            return await self._one_by_one(items)
        except BaseException as late:  # noqa: BLE001 - cancelled midway (shutdown): every caller hears of it
            return [(None, late)] * len(items)

    async def _one_by_one(self, items: list[T]) -> list[tuple[R | None, BaseException | None]]:
        out: list[tuple[R | None, BaseException | None]] = []
        for item in items:
            try:
                (value,) = await self.db.write(_run_one(self.run, item), durable=self.durable)
                out.append((value, None))
            except Exception as exc:  # noqa: BLE001 - handed to its caller
                out.append((None, exc))
        return out


def _run_one(run: RunBatch[T, R], item: T) -> Callable[[Conn], Awaitable[list[R]]]:
    return lambda c: run(c, [item])
