"""Pure retry policy of the async queue: after an attempt, retry at T or give up with condition X.

No I/O and no clock: the dispatcher passes `now_ms` and a `jitter` in [0, 1), so every branch is a
plain function of its inputs (contract section 3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from lambdalite.model.event import QueuedEvent
from lambdalite.model.outcome import Condition

DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 21600
MAX_RECURSIVE_INVOCATIONS = 16  # invocations a chain may make before Lambda stops it (section 10)
RECURSION_ALLOW = "Allow"


class Result(StrEnum):
    """What one try of an event came to."""

    SUCCESS = "success"
    FUNCTION_ERROR = "function_error"  # handler exception, timeout, runtime exit, init failure
    THROTTLE = "throttle"  # no concurrency slot free: the function did not run
    SYSTEM_ERROR = "system_error"  # the environment could not start or was lost
    ZERO_RESERVED = "zero_reserved"  # reserved concurrency 0: never runs


@dataclass(frozen=True, slots=True)
class Limits:
    """The event invoke config's error handling plus the server's timing settings."""

    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    retry_base_delay_s: float = 60.0
    throttle_base_delay_s: float = 1.0
    throttle_max_delay_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Retry:
    at_ms: int
    event: QueuedEvent  # the state to store with the requeued event


@dataclass(frozen=True, slots=True)
class Done:
    condition: Condition
    approximate_invoke_count: int


Decision = Retry | Done

# Which results mean the function was invoked (counted in approximateInvokeCount).
_RAN = frozenset({Result.SUCCESS, Result.FUNCTION_ERROR})


def deadline_ms(event: QueuedEvent, limits: Limits) -> int:
    """The latest time an attempt of this event may start."""
    return event.accepted_ms + limits.max_event_age_s * 1000


def too_old(event: QueuedEvent, limits: Limits, now_ms: int) -> bool:
    """True when an attempt starting now would start after the event's max age."""
    return now_ms > deadline_ms(event, limits)


def recursion_stops(hops: int, recursive_loop: str, limit: int = MAX_RECURSIVE_INVOCATIONS) -> bool:
    """True when an invocation that already has `hops` invocations before it in its chain must not run:
    it would be invocation number hops + 1 > limit, and the function's RecursiveLoop is not Allow."""
    return recursive_loop != RECURSION_ALLOW and hops >= limit


def throttle_delay_ms(backoffs: int, limits: Limits, jitter: float) -> int:
    """Exponential backoff from the base, doubling, capped; jitter in [0, 1) keeps 50-100% of it."""
    base_s = limits.throttle_base_delay_s * (2 ** min(backoffs, 32))
    capped_s = min(limits.throttle_max_delay_s, base_s)
    return int(capped_s * 1000 * (1.0 - 0.5 * _clamp(jitter)))


def decide(result: Result, event: QueuedEvent, limits: Limits, *, now_ms: int, jitter: float) -> Decision:
    """The decision after one try that ended at `now_ms`; `event` is the state before that try."""
    attempts = event.attempts + (1 if result in _RAN else 0)
    if result is Result.SUCCESS:
        return Done(Condition.SUCCESS, attempts)
    if result is Result.ZERO_RESERVED:
        return Done(Condition.ZERO_RESERVED_CONCURRENCY, attempts)
    if result is Result.FUNCTION_ERROR:
        if event.retries_used >= limits.max_retry_attempts:
            return Done(Condition.RETRIES_EXHAUSTED, attempts)
        retries_used = event.retries_used + 1
        at_ms = now_ms + int(limits.retry_base_delay_s * 1000 * retries_used)
        nxt = replace(event, attempts=attempts, retries_used=retries_used, backoffs=0)
    else:
        at_ms = now_ms + throttle_delay_ms(event.backoffs, limits, jitter)
        nxt = replace(event, attempts=attempts, backoffs=event.backoffs + 1)
    if at_ms > deadline_ms(event, limits):
        return Done(Condition.EVENT_AGE_EXCEEDED, attempts)
    return Retry(at_ms, nxt)


def _clamp(jitter: float) -> float:
    return min(max(jitter, 0.0), 1.0)


# ---- background jobs (destination deliveries, EventBridge rule targets) ---------------------------


@dataclass(frozen=True, slots=True)
class JobLimits:
    """How long a delivery job keeps trying: attempts in all, its age, and the doubling delay between."""

    max_attempts: int
    base_delay_s: float
    max_delay_s: float = float("inf")
    max_age_s: float | None = None


def exhausted_limit(attempts: int, age_ms: int, limits: JobLimits) -> str | None:
    """Which retry limit a job given up on ran into, named as EventBridge's dead-letter messages name it
    (EXHAUSTED_RETRY_CONDITION); None when neither did (a permanent failure ended it)."""
    if attempts >= limits.max_attempts:
        return "MaximumRetryAttempts"
    if limits.max_age_s is not None and age_ms >= limits.max_age_s * 1000:
        return "MaximumEventAgeInSeconds"
    return None


def job_retry_delay_ms(attempts: int, age_ms: int, limits: JobLimits, *, permanent: bool) -> int | None:
    """After a job's `attempts`-th failed delivery: the delay before the next one, or None to give up
    (a permanent failure, attempts used up, or the job older than its maximum age)."""
    if permanent or attempts >= limits.max_attempts:
        return None
    if limits.max_age_s is not None and age_ms >= limits.max_age_s * 1000:
        return None
    return int(min(limits.base_delay_s * 2 ** max(attempts - 1, 0), limits.max_delay_s) * 1000)
