"""Async events, their concurrency slots and delivery jobs on PostgreSQL (the model: store/sqlite/
event_queue.py). Accepts are group-committed (accept.py: many 202s, one COMMIT); an event is leased
with its slot in one transaction; an attempt's end releases the slot, deletes or reschedules the event,
records its outcome and queues its deliveries in one transaction, shared by the attempts that end together
(batch.py: a busy worker commits its ends in batches).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lambdalite.clock import now_ms
from lambdalite.model.event import EVENT_KIND, QueuedEvent, queue_name
from lambdalite.model.queue import AttemptEnd, Claim, Leased, Message, NewMessage, QueueRow
from lambdalite.store.postgres import history, outcomes, queues, slots
from lambdalite.store.postgres.accept import AcceptBatcher, PendingAccept
from lambdalite.store.postgres.batch import Batcher
from lambdalite.store.postgres.db import Conn
from lambdalite.wakeups import JOBS

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.postgres.db import PgDatabase

_PREFIX = queue_name("")


async def claim_slots(conn: Conn, messages: list[Message], *, holder: str, account_limit: int,
                      ttl_ms: int) -> list[Claim]:
    """Inside the lease's transaction: a slot per leased event (id, 429 reason, or None when the function
    is missing or has reserved concurrency 0: the attempt decides those)."""
    if not messages:
        return []
    names = list({m.queue.removeprefix(_PREFIX) for m in messages})
    reserved = {r[0]: r[1] for r in await conn.fetch(
        "SELECT name, reserved_concurrency FROM functions WHERE name = ANY($1::text[])", names)}
    wanted = [(m.queue.removeprefix(_PREFIX), i) for i, m in enumerate(messages)]
    runnable = [(name, i) for name, i in wanted if name in reserved and reserved[name] != 0]
    taken = await slots.acquire_many(conn, [(name, reserved[name]) for name, _ in runnable],
                                     account_limit=account_limit, unreserved_floor=None, holder=holder,
                                     now_ms=now_ms(), ttl_ms=ttl_ms)
    claims: list[Claim] = [None] * len(messages)
    for (_, i), claim in zip(runnable, taken, strict=True):
        claims[i] = claim
    return claims


async def enqueue_jobs(conn: Conn, jobs: list[NewMessage]) -> None:
    """Queue jobs; one already pending (the same event ended twice) is not duplicated."""
    if not jobs:
        return
    now = now_ms()
    await queues.send_many(conn, [(j.kind, j.queue, j.id, j.body, j.attrs, now, now + j.delay_ms) for j in jobs],
                           keep_existing=True)
    await queues.notify(conn, JOBS)


FinishItem = tuple[Message, AttemptEnd]


def finish_batcher(db: PgDatabase) -> Batcher[FinishItem, bool]:
    """Durable: batched, the WAL flush costs little per end, and a database crash then re-runs only the
    events that were running, not those that had ended (docs/decisions.md has the figures)."""
    return Batcher(db, finish_many, durable=True)


async def finish_many(conn: Conn, items: list[FinishItem]) -> list[bool]:
    """Attempts' ends in one transaction: free their slots; reschedule or delete each event still held
    under its receipt; for those, the history rows, and the outcomes and deliveries of the ended ones.
    Per item: whether its event was still held (False: its lease was lost, nothing but the slot changed)."""
    await slots.release_many(conn, [end.slot_id for _, end in items if end.slot_id is not None])
    held = await queues.reschedule_many(conn, [(m.id, m.receipt, end.retry_at_ms, end.event_attrs)
                                               for m, end in items if end.retry_at_ms is not None])
    held |= await queues.delete_many(conn, [(m.id, m.receipt) for m, end in items if end.retry_at_ms is None])
    mine = [end for m, end in items if (m.id, m.receipt) in held]
    await history.add_attempts(conn, [end.record for end in mine if end.record is not None])
    ended = [end for end in mine if end.retry_at_ms is None and end.outcome is not None]
    await outcomes.record_many(conn, [end.outcome for end in ended if end.outcome is not None])
    await enqueue_jobs(conn, [job for end in ended for job in end.jobs])
    return [(m.id, m.receipt) in held for m, _ in items]


async def queue_rows(conn: Conn, at_ms: int) -> list[QueueRow]:
    rows = []
    for name in sorted(await queues.queues_of_kind(conn, EVENT_KIND)):
        counts = await queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix(_PREFIX), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


class EventQueueStore:
    db: PgDatabase
    settings: Settings
    holder: str
    _held_slots: set[int]
    _accepts: AcceptBatcher
    _finishes: Batcher[FinishItem, bool]

    # ---- events -----------------------------------------------------------------------------------
    async def accept_event(self, event: QueuedEvent, payload: bytes, *, lease_ms: int | None = None,
                           receipt: str | None = None) -> Leased | None:
        pending = PendingAccept(queue_name(event.function), event.request_id, payload, event.to_attrs(),
                                event.accepted_ms, lease_ms, receipt or "")
        leased = await self._accepts.submit(pending)
        if leased is not None and isinstance(leased.claim, int):
            self._held_slots.add(leased.claim)
        return leased

    async def lease_events(self, limit: int, lease_ms: int) -> list[Leased]:
        account_limit = self.settings.account_concurrency

        async def lease(c: Conn) -> list[Leased]:
            messages = await queues.lease(c, kind=EVENT_KIND, lease_ms=lease_ms, limit=limit)
            claims = await claim_slots(c, messages, holder=self.holder, account_limit=account_limit,
                                       ttl_ms=lease_ms)
            return [Leased(m, claim) for m, claim in zip(messages, claims, strict=True)]

        leased = await self.db.write(lease, durable=False)
        self._held_slots.update(x.claim for x in leased if isinstance(x.claim, int))
        return leased

    async def finish_attempt(self, message: Message, end: AttemptEnd) -> bool:
        if end.slot_id is not None:
            self._held_slots.discard(end.slot_id)
        return await self._finishes.submit((message, end))

    async def discard_event(self, message: Message, slot_id: int | None) -> None:
        async def discard(c: Conn) -> None:
            await queues.delete(c, message.id, message.receipt)
            if slot_id is not None:
                await slots.release(c, slot_id)

        if slot_id is not None:
            self._held_slots.discard(slot_id)
        await self.db.write(discard, durable=False)

    async def renew_leases(self, leases: list[tuple[str, str]], visible_ms: int) -> int:
        return await self.db.write(lambda c: queues.renew(c, leases, visible_ms), durable=False)

    async def next_due_ms(self, kind: str) -> int | None:
        value = await self.db.fetchval("SELECT min(visible_ms) FROM messages WHERE kind = $1", kind)
        return None if value is None else int(value)

    async def queue_report(self, at_ms: int) -> list[QueueRow]:
        return await self.db.read(lambda c: queue_rows(c, at_ms))

    # ---- concurrency slots ------------------------------------------------------------------------
    async def acquire_slot(self, function: str, reserved: int | None) -> int | str:
        ttl_ms = int(self.settings.lease_s * 1000)
        account = self.settings.account_concurrency

        async def fn(c: Conn) -> int | str:
            (slot,) = await slots.acquire_many(c, [(function, reserved)], account_limit=account,
                                               unreserved_floor=0 if reserved is not None else None,
                                               holder=self.holder, now_ms=now_ms(), ttl_ms=ttl_ms)
            return slot

        slot = await self.db.write(fn, durable=False)
        if isinstance(slot, int):
            self._held_slots.add(slot)
        return slot

    def hold_slots(self, slot_ids: Iterable[int]) -> None:
        self._held_slots.update(slot_ids)

    def drop_slot(self, slot_id: int) -> None:
        self._held_slots.discard(slot_id)

    async def release_slot(self, slot_id: int) -> None:
        self._held_slots.discard(slot_id)
        await self.db.write(lambda c: slots.release(c, slot_id), durable=False)

    async def renew_slots(self) -> None:
        now = now_ms()
        expires = now + int(self.settings.lease_s * 1000)
        held = list(self._held_slots)
        await self.db.write(lambda c: slots.renew(c, held, expires, now), durable=False)

    # ---- delivery jobs ----------------------------------------------------------------------------
    async def enqueue_jobs(self, jobs: list[NewMessage]) -> None:
        if jobs:
            await self.db.write(lambda c: enqueue_jobs(c, jobs))

    async def lease_jobs(self, kind: str, lease_ms: int, limit: int) -> list[Message]:
        return await self.db.write(lambda c: queues.lease(c, kind=kind, lease_ms=lease_ms, limit=limit),
                                   durable=False)

    async def delete_job(self, id: str, receipt: str | None) -> bool:
        return await self.db.write(lambda c: queues.delete(c, id, receipt))

    async def retry_job(self, id: str, receipt: str | None, visible_ms: int) -> bool:
        return await self.db.write(lambda c: queues.reschedule(c, id, receipt, visible_ms=visible_ms),
                                   durable=False)
