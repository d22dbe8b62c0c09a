"""Event history: what operators see of every async event (attempts, end, deliveries), what they filter by.

An event's history is assembled from three places, so the hot path writes one row per attempt and no more:
the live queue (queued / delayed / running events, payload in the message), the outcome recorded when the
event ended (condition, payload, result), and the attempt rows below, written in the same transaction as
each attempt's end (`AttemptEnd.record`). Delivery results (destinations, DLQ) are rows of their own,
written by the delivery job when it delivers or gives up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lambdalite.model.outcome import Outcome

ERROR_MESSAGE_MAX_CHARS = 1024  # an attempt row keeps this much of an error message
PAGE_LIMIT_MAX = 500


class Status(StrEnum):
    """Where an event is: in its queue (the first three) or ended (the last two)."""

    QUEUED = "queued"  # due, waiting for a dispatcher
    DELAYED = "delayed"  # waiting for a retry or a throttle backoff
    RUNNING = "running"  # leased by a dispatcher
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ended without success: retries exhausted, too old, zero concurrency, recursion

    @property
    def live(self) -> bool:
        return self in (Status.QUEUED, Status.DELAYED, Status.RUNNING)


class Result(StrEnum):
    """What one attempt came to (the policy's input, as recorded)."""

    SUCCESS = "success"
    FUNCTION_ERROR = "function_error"
    THROTTLED = "throttled"
    SYSTEM_ERROR = "system_error"
    NOT_RUN = "not_run"  # ended before running: too old, zero reserved concurrency, recursion, function gone


@dataclass(slots=True)
class AttemptRecord:
    """One attempt of one event, written with the attempt's end (one INSERT).

    `run`: 0 for the event's first sequence of attempts, n for its n-th redrive. `retry_at_ms` set means
    the policy retries at that time; otherwise `condition` says how the event ended (None: dropped).
    """

    request_id: str
    function: str
    run: int
    number: int  # 1-based within its run
    started_ms: int
    ended_ms: int
    result: Result
    error_type: str | None = None
    error_message: str | None = None
    retry_at_ms: int | None = None
    condition: str | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, self.ended_ms - self.started_ms)

    @property
    def decision(self) -> str:
        if self.retry_at_ms is not None:
            return "retry"
        return "dropped" if self.condition is None else f"ended: {self.condition}"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A destination or DLQ delivery of an ended event: delivered, or given up after `attempts`."""

    request_id: str
    side: str  # on_success, on_failure, dead_letter
    target_arn: str
    delivered: bool
    attempts: int
    at_ms: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """The event browser's filters; `before` is the previous page's cursor (newest first)."""

    function: str | None = None
    status: Status | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    request_id: str | None = None
    before: tuple[int, str] | None = None  # (time_ms, request_id) of the last row of the previous page
    limit: int = 50


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the event browser. `time_ms`: when it ended, or when it was accepted if still queued."""

    request_id: str
    function: str
    status: Status
    time_ms: int
    attempts: int
    condition: str | None = None

    @property
    def cursor(self) -> tuple[int, str]:
        return (self.time_ms, self.request_id)


@dataclass(slots=True)
class EventDetail:
    """An event's page: where it is, its payload, every attempt and delivery, and its outcome if it ended."""

    request_id: str
    function: str
    status: Status
    payload: bytes | None
    accepted_ms: int | None = None
    due_ms: int | None = None  # live events: when it runs next
    outcome: Outcome | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)

    @property
    def redrivable(self) -> bool:
        return self.status is Status.FAILED and self.payload is not None


@dataclass(frozen=True, slots=True)
class Activity:
    """Attempts that ended in a time window, by what came of them (the console's rate charts)."""

    successes: int = 0
    retries: int = 0
    failures: int = 0  # ended without success
    drops: int = 0  # ended without a record (the function was gone)


def status_of_outcome(outcome: Outcome) -> Status:
    return Status.SUCCEEDED if outcome.succeeded else Status.FAILED


def clip_message(message: str | None) -> str | None:
    if message is None or len(message) <= ERROR_MESSAGE_MAX_CHARS:
        return message
    return message[: ERROR_MESSAGE_MAX_CHARS - 1] + "…"
