"""Async events, their concurrency slots, delivery jobs and outcomes: the dispatcher's units of work.

Each operation is one group-committed write, so the steps that must not be separated are not: an event
is leased with its slot; an attempt's end releases the slot, deletes or reschedules the event, records
its outcome and queues its deliveries together (a crash repeats, never loses).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lambdalite.clock import now_ms
from lambdalite.model.event import EVENT_KIND, QueuedEvent, queue_name
from lambdalite.model.queue import AttemptEnd, Claim, Leased, Message, NewMessage, QueueRow
from lambdalite.store.sqlite import history, outcomes, queues, slots

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.sqlite.db import Database

_PREFIX = queue_name("")


def reserved_total(conn: sqlite3.Connection) -> int:
    """Sum of every function's reserved concurrency: what unreserved functions may not use."""
    row = conn.execute("SELECT coalesce(sum(reserved_concurrency), 0) FROM functions").fetchone()
    return int(row[0] or 0)


def claim_slots(conn: sqlite3.Connection, messages: list[Message], *, holder: str, account_limit: int,
                ttl_ms: int) -> list[Claim]:
    """Inside the lease's transaction: a concurrency slot per leased event (id, 429 reason, or None when
    the function is missing or has reserved concurrency 0: the attempt decides those)."""
    if not messages:
        return []
    names = {m.queue.removeprefix(_PREFIX) for m in messages}
    marks = ",".join("?" * len(names))
    reserved = dict(conn.execute(f"SELECT name, reserved_concurrency FROM functions WHERE name IN ({marks})",
                                 tuple(names)))
    wanted = [(m.queue.removeprefix(_PREFIX), i) for i, m in enumerate(messages)]
    runnable = [(name, i) for name, i in wanted if name in reserved and reserved[name] != 0]
    taken = slots.acquire_many(conn, [(name, reserved[name]) for name, _ in runnable], account_limit=account_limit,
                               unreserved_floor=reserved_total(conn), holder=holder, now_ms=now_ms(), ttl_ms=ttl_ms)
    claims: list[Claim] = [None] * len(messages)
    for (_, i), claim in zip(runnable, taken, strict=True):
        claims[i] = claim
    return claims


def send_new(conn: sqlite3.Connection, messages: list[NewMessage], *, keep_existing: bool = False) -> None:
    """Queue messages; with `keep_existing`, one whose id is pending already is kept as it is."""
    for m in messages:
        queues.send(conn, kind=m.kind, queue=m.queue, id=m.id, body=m.body, attrs=m.attrs, delay_ms=m.delay_ms,
                    keep_existing=keep_existing)


def enqueue_jobs(conn: sqlite3.Connection, jobs: list[NewMessage]) -> None:
    """Queue jobs; a job already pending (the same event ended twice) is not duplicated."""
    send_new(conn, jobs, keep_existing=True)


def finish(conn: sqlite3.Connection, message: Message, end: AttemptEnd) -> bool:
    """The write after an attempt; False when the lease was lost (another dispatcher owns the event)."""
    if end.slot_id is not None:
        slots.release(conn, end.slot_id)
    if end.retry_at_ms is not None:
        owned = queues.reschedule(conn, message.id, message.receipt, visible_ms=end.retry_at_ms,
                                  attrs=end.event_attrs)
    else:
        owned = queues.delete(conn, message.id, message.receipt)
    if not owned:
        return False
    if end.record is not None:
        history.add_attempt(conn, end.record)
    if end.retry_at_ms is None and end.outcome is not None:
        outcomes.record(conn, end.outcome)
        enqueue_jobs(conn, end.jobs)
    return True


def queue_rows(conn: sqlite3.Connection, at_ms: int) -> list[QueueRow]:
    rows = []
    for name in sorted(queues.queues_of_kind(conn, EVENT_KIND)):
        counts = queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix(_PREFIX), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


class EventQueueStore:
    """The facade's async-event, slot and job operations."""

    db: Database
    settings: Settings
    holder: str
    _held_slots: set[int]

    # ---- events -----------------------------------------------------------------------------------
    async def accept_event(self, event: QueuedEvent, payload: bytes, *, lease_ms: int | None = None,
                           receipt: str | None = None) -> Leased | None:
        queue = queue_name(event.function)
        attrs = event.to_attrs()
        if lease_ms is None:
            def add(c: sqlite3.Connection) -> None:
                queues.send(c, kind=EVENT_KIND, queue=queue, id=event.request_id, body=payload, attrs=attrs,
                            at_ms=event.accepted_ms)

            await self.db.write(add)
            return None
        ttl_ms = lease_ms

        def add_leased(c: sqlite3.Connection) -> Leased:
            message = queues.send_leased(c, kind=EVENT_KIND, queue=queue, id=event.request_id, body=payload,
                                         attrs=attrs, at_ms=event.accepted_ms, lease_ms=ttl_ms,
                                         receipt=receipt or "")
            (claim,) = claim_slots(c, [message], holder=self.holder,
                                   account_limit=self.settings.account_concurrency, ttl_ms=ttl_ms)
            return Leased(message, claim)

        leased = await self.db.write(add_leased)
        if isinstance(leased.claim, int):
            self._held_slots.add(leased.claim)
        return leased

    async def lease_events(self, limit: int, lease_ms: int) -> list[Leased]:
        account_limit = self.settings.account_concurrency

        def lease(c: sqlite3.Connection) -> list[Leased]:
            messages = queues.lease(c, kind=EVENT_KIND, lease_ms=lease_ms, limit=limit)
            claims = claim_slots(c, messages, holder=self.holder, account_limit=account_limit, ttl_ms=lease_ms)
            return [Leased(m, claim) for m, claim in zip(messages, claims, strict=True)]

        leased = await self.db.write(lease, durable=False)
        self._held_slots.update(x.claim for x in leased if isinstance(x.claim, int))
        return leased

    async def finish_attempt(self, message: Message, end: AttemptEnd) -> bool:
        if end.slot_id is not None:
            self._held_slots.discard(end.slot_id)  # released by this write (or lapses if it fails)
        return await self.db.write(lambda c: finish(c, message, end), durable=False)

    async def discard_event(self, message: Message, slot_id: int | None) -> None:
        def discard(c: sqlite3.Connection) -> None:
            queues.delete(c, message.id, message.receipt)
            if slot_id is not None:
                slots.release(c, slot_id)

        if slot_id is not None:
            self._held_slots.discard(slot_id)
        await self.db.write(discard, durable=False)

    async def renew_leases(self, leases: list[tuple[str, str]], visible_ms: int) -> int:
        return await self.db.write(lambda c: queues.renew(c, leases, visible_ms), durable=False)

    async def next_due_ms(self, kind: str) -> int | None:
        return self.db.read(lambda c: queues.next_due_ms(c, kind=kind))

    async def queue_report(self, at_ms: int) -> list[QueueRow]:
        return self.db.read(lambda c: queue_rows(c, at_ms))

    # ---- concurrency slots ------------------------------------------------------------------------
    async def acquire_slot(self, function: str, reserved: int | None) -> int | str:
        ttl_ms = int(self.settings.lease_s * 1000)
        account = self.settings.account_concurrency

        def fn(c: sqlite3.Connection) -> int | str:
            floor = 0 if reserved is not None else reserved_total(c)
            return slots.acquire(c, function=function, reserved=reserved, account_limit=account,
                                 unreserved_floor=floor, holder=self.holder, now_ms=now_ms(), ttl_ms=ttl_ms)

        slot = await self.db.write(fn, durable=False)
        if isinstance(slot, int):
            self._held_slots.add(slot)
        return slot

    def hold_slots(self, slot_ids: Iterable[int]) -> None:
        """Slots taken inside another write: renew them until released."""
        self._held_slots.update(slot_ids)

    def drop_slot(self, slot_id: int) -> None:
        """Stop renewing a slot whose release is part of another write: if that write fails, it lapses."""
        self._held_slots.discard(slot_id)

    async def release_slot(self, slot_id: int) -> None:
        self._held_slots.discard(slot_id)  # first: should the write fail, the slot lapses
        await self.db.write(lambda c: slots.release(c, slot_id), durable=False)

    async def renew_slots(self) -> None:
        """Extend the slots this process holds (maintenance, every lease_s / 3) and sweep lapsed ones."""
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
