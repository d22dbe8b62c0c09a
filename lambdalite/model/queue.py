"""Records of the one queue engine: a message as leased, and a queue's counts (what every backend returns)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdalite.model.history import AttemptRecord
from lambdalite.model.outcome import Outcome


@dataclass(slots=True)
class Message:
    seq: int
    kind: str
    queue: str
    id: str
    body: bytes
    attrs: bytes | None
    sent_ms: int
    visible_ms: int
    receive_count: int
    first_receive_ms: int | None
    receipt: str | None


@dataclass(slots=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int
    oldest_sent_ms: int | None


# A concurrency slot claimed with a lease: its id, the 429 Reason it was refused, or None (the function is
# missing or has reserved concurrency 0: the attempt decides those).
Claim = int | str | None


@dataclass(slots=True)
class Leased:
    """An event leased to this process, with the concurrency slot claimed in the same transaction."""

    message: Message
    claim: Claim


@dataclass(slots=True)
class NewMessage:
    """A message to queue: an SQS message, a delivery job (kind names the queue engine's consumer)."""

    kind: str
    queue: str
    id: str
    body: bytes
    attrs: bytes | None = None
    delay_ms: int = 0


@dataclass(slots=True)
class AttemptEnd:
    """What the store commits after one attempt, atomically (`Store.finish_attempt`).

    `retry_at_ms` set: the event stays queued, due then, with `event_attrs` as its new state. Otherwise
    it is deleted; `outcome` (when set) is recorded and `jobs` (its deliveries) are queued with it.
    `record`: the attempt's row of the event history, written in the same transaction.
    """

    slot_id: int | None
    retry_at_ms: int | None = None
    event_attrs: bytes | None = None
    outcome: Outcome | None = None
    jobs: list[NewMessage] = field(default_factory=list)
    record: AttemptRecord | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One function's async queue, as `lambdalite queue` prints it."""

    function: str
    queued: int  # due now, waiting for a dispatcher
    in_flight: int  # leased: running (or held by a dispatcher that has not renewed yet)
    delayed: int  # waiting for a retry or backoff
    oldest_age_s: float | None
