"""Group commit for accepts: every accept_event of one event-loop iteration (and those that arrive while
earlier batches commit) goes into one transaction: one INSERT of all rows, one NOTIFY, one COMMIT with
synchronous_commit=on, then every caller's 202 may go out. A batch that fails for one row's sake (a
duplicate request id) is retried row by row, so the failure stays with its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from lambdalite.model.event import EVENT_KIND
from lambdalite.model.queue import Claim, Leased, Message
from lambdalite.store.postgres import queues
from lambdalite.wakeups import EVENTS

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from lambdalite.store.postgres.db import Conn, PgDatabase

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 4  # batches committing at once; more arrivals wait and join the next batch
MAX_BATCH = 2048


@dataclass(slots=True)
class PendingAccept:
    queue: str
    id: str
    body: bytes
    attrs: bytes | None
    at_ms: int
    lease_ms: int | None  # direct dispatch: queued already leased to this process, with its slot
    receipt: str


ClaimSlots = Callable[["Conn", list[Message]], "Awaitable[list[Claim]]"]


class AcceptBatcher:
    def __init__(self, db: PgDatabase, claim_slots: ClaimSlots):
        self.db = db
        self.claim_slots = claim_slots
        self._pending: list[tuple[PendingAccept, asyncio.Future[Leased | None]]] = []
        self._in_flight = 0
        self._scheduled = False

    async def submit(self, accept: PendingAccept) -> Leased | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Leased | None] = loop.create_future()
        self._pending.append((accept, future))
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

    async def _commit(self, batch: list[tuple[PendingAccept, asyncio.Future[Leased | None]]]) -> None:
        try:
            try:
                results = await self.db.write(lambda c: self._insert([a for a, _ in batch], c))
                outcomes: list[tuple[Leased | None, BaseException | None]] = [(r, None) for r in results]
            except asyncpg.PostgresError as exc:  # one row's fault, most likely: find whose
                outcomes = await self._one_by_one([a for a, _ in batch]) if len(batch) > 1 else [(None, exc)]
            except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
                outcomes = [(None, exc)] * len(batch)
            for (_, future), (value, error) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)
        finally:
            self._in_flight -= 1
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._start)

    async def _one_by_one(self, accepts: list[PendingAccept]) -> list[tuple[Leased | None, BaseException | None]]:
        out: list[tuple[Leased | None, BaseException | None]] = []
        for accept in accepts:
            try:
                (value,) = await self.db.write(_insert_one(self, accept))
                out.append((value, None))
            except Exception as exc:  # noqa: BLE001 - handed to its caller
                out.append((None, exc))
        return out

    async def _insert(self, accepts: list[PendingAccept], conn: Conn) -> list[Leased | None]:
        plain = [a for a in accepts if a.lease_ms is None]
        await queues.send_many(conn, [(EVENT_KIND, a.queue, a.id, a.body, a.attrs, a.at_ms, a.at_ms)
                                      for a in plain])
        leased: dict[int, Leased] = {}
        messages = []
        for i, a in enumerate(accepts):
            if a.lease_ms is not None:
                messages.append((i, await queues.send_leased(
                    conn, kind=EVENT_KIND, queue=a.queue, id=a.id, body=a.body, attrs=a.attrs, at_ms=a.at_ms,
                    lease_ms=a.lease_ms, receipt=a.receipt)))
        if messages:
            claims = await self.claim_slots(conn, [m for _, m in messages])
            leased = {i: Leased(m, claim) for (i, m), claim in zip(messages, claims, strict=True)}
        if plain:
            await queues.notify(conn, EVENTS)
        return [leased.get(i) for i in range(len(accepts))]


def _insert_one(batcher: AcceptBatcher, accept: PendingAccept) -> Callable[[Conn], Awaitable[list[Leased | None]]]:
    return lambda c: batcher._insert([accept], c)
