"""Accepts, group-committed (batch.py): every accept_event of one event-loop iteration (and those that
arrive while earlier batches commit) goes into one transaction: one INSERT of all rows, one NOTIFY, one
COMMIT with synchronous_commit=on, then every caller's 202 may go out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdalite.model.event import EVENT_KIND
from lambdalite.model.queue import Claim, Leased, Message
from lambdalite.store.postgres import queues
from lambdalite.store.postgres.batch import Batcher
from lambdalite.wakeups import EVENTS

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from lambdalite.store.postgres.db import Conn, PgDatabase


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
AcceptBatcher = Batcher[PendingAccept, Leased | None]


def accept_batcher(db: PgDatabase, claim_slots: ClaimSlots) -> AcceptBatcher:
    async def insert(conn: Conn, accepts: list[PendingAccept]) -> list[Leased | None]:
        return await insert_accepts(conn, accepts, claim_slots)

    return Batcher(db, insert, durable=True)


async def insert_accepts(conn: Conn, accepts: list[PendingAccept], claim_slots: ClaimSlots) -> list[Leased | None]:
    """Queue every accept (those for direct dispatch leased to this process, with their slots)."""
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
        claims = await claim_slots(conn, [m for _, m in messages])
        leased = {i: Leased(m, claim) for (i, m), claim in zip(messages, claims, strict=True)}
    if plain:
        await queues.notify(conn, EVENTS)
    return [leased.get(i) for i in range(len(accepts))]
