"""Every branch of the async retry policy, with the contract's worked examples."""

from __future__ import annotations

from typing import Any

import pytest

from lambdalite.model.event import QueuedEvent
from lambdalite.model.outcome import Condition
from lambdalite.policy import (
    Done,
    JobLimits,
    Limits,
    Result,
    Retry,
    deadline_ms,
    decide,
    exhausted_limit,
    job_retry_delay_ms,
    throttle_delay_ms,
    too_old,
)

T0 = 1_700_000_000_000


def fresh(**kw: Any) -> QueuedEvent:
    return QueuedEvent(request_id="r", function="f", qualifier="$LATEST", accepted_ms=T0, **kw)


def test_success_first_try_counts_one() -> None:
    assert decide(Result.SUCCESS, fresh(), Limits(), now_ms=T0 + 5, jitter=0) == Done(Condition.SUCCESS, 1)


def test_success_after_retries_counts_every_attempt() -> None:
    event = fresh(attempts=2, retries_used=2)
    assert decide(Result.SUCCESS, event, Limits(), now_ms=T0, jitter=0) == Done(Condition.SUCCESS, 3)


def test_zero_reserved_never_ran() -> None:
    decision = decide(Result.ZERO_RESERVED, fresh(), Limits(), now_ms=T0, jitter=0.5)
    assert decision == Done(Condition.ZERO_RESERVED_CONCURRENCY, 0)


def test_function_error_retries_after_one_then_two_base_delays() -> None:
    limits = Limits(retry_base_delay_s=60)
    first = decide(Result.FUNCTION_ERROR, fresh(), limits, now_ms=T0 + 100, jitter=0.9)
    assert isinstance(first, Retry)
    assert first.at_ms == T0 + 100 + 60_000
    assert (first.event.attempts, first.event.retries_used, first.event.backoffs) == (1, 1, 0)
    second = decide(Result.FUNCTION_ERROR, first.event, limits, now_ms=first.at_ms + 100, jitter=0.9)
    assert isinstance(second, Retry)
    assert second.at_ms == first.at_ms + 100 + 120_000
    assert (second.event.attempts, second.event.retries_used) == (2, 2)
    third = decide(Result.FUNCTION_ERROR, second.event, limits, now_ms=second.at_ms + 100, jitter=0)
    assert third == Done(Condition.RETRIES_EXHAUSTED, 3)


def test_retry_keeps_request_id_and_accept_time() -> None:
    decision = decide(Result.FUNCTION_ERROR, fresh(), Limits(), now_ms=T0, jitter=0)
    assert isinstance(decision, Retry)
    assert decision.event.request_id == "r" and decision.event.accepted_ms == T0


def test_zero_retries_gives_one_attempt() -> None:
    decision = decide(Result.FUNCTION_ERROR, fresh(), Limits(max_retry_attempts=0), now_ms=T0, jitter=0)
    assert decision == Done(Condition.RETRIES_EXHAUSTED, 1)


def test_one_retry_gives_two_attempts() -> None:
    limits = Limits(max_retry_attempts=1, retry_base_delay_s=1)
    first = decide(Result.FUNCTION_ERROR, fresh(), limits, now_ms=T0, jitter=0)
    assert isinstance(first, Retry)
    assert decide(Result.FUNCTION_ERROR, first.event, limits, now_ms=first.at_ms, jitter=0) == Done(
        Condition.RETRIES_EXHAUSTED, 2
    )


def test_contract_max_age_60_gives_one_attempt() -> None:
    limits = Limits(max_event_age_s=60, retry_base_delay_s=60)
    decision = decide(Result.FUNCTION_ERROR, fresh(), limits, now_ms=T0 + 200, jitter=0)
    assert decision == Done(Condition.EVENT_AGE_EXCEEDED, 1)


def test_contract_max_age_90_gives_two_attempts() -> None:
    limits = Limits(max_event_age_s=90, retry_base_delay_s=60)
    first = decide(Result.FUNCTION_ERROR, fresh(), limits, now_ms=T0 + 200, jitter=0)
    assert isinstance(first, Retry)
    second = decide(Result.FUNCTION_ERROR, first.event, limits, now_ms=first.at_ms + 200, jitter=0)
    assert second == Done(Condition.EVENT_AGE_EXCEEDED, 2)


def test_look_ahead_allows_start_exactly_at_the_limit() -> None:
    limits = Limits(max_event_age_s=60, retry_base_delay_s=60)
    decision = decide(Result.FUNCTION_ERROR, fresh(), limits, now_ms=T0, jitter=0)
    assert isinstance(decision, Retry) and decision.at_ms == deadline_ms(fresh(), limits)


@pytest.mark.parametrize("result", [Result.THROTTLE, Result.SYSTEM_ERROR])
def test_throttle_and_system_error_back_off_without_consuming_retries(result: Result) -> None:
    limits = Limits(throttle_base_delay_s=1, throttle_max_delay_s=300)
    event = fresh(attempts=1, retries_used=1)
    expected_delays_ms = [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000]
    now = T0
    for expected in expected_delays_ms:
        decision = decide(result, event, limits, now_ms=now, jitter=0)
        assert isinstance(decision, Retry)
        assert decision.at_ms - now == expected
        assert decision.event.retries_used == 1 and decision.event.attempts == 1
        event, now = decision.event, decision.at_ms
    assert event.backoffs == len(expected_delays_ms)


def test_throttle_stops_only_at_max_age() -> None:
    limits = Limits(max_event_age_s=60, throttle_base_delay_s=1, throttle_max_delay_s=300)
    event, now, tries = fresh(), T0, 0
    while True:
        decision = decide(Result.THROTTLE, event, limits, now_ms=now, jitter=0)
        tries += 1
        if isinstance(decision, Done):
            break
        event, now = decision.event, decision.at_ms
    assert decision == Done(Condition.EVENT_AGE_EXCEEDED, 0)
    assert tries == 6  # 1+2+4+8+16 = 31 s of waits fit in 60; the next 32 s does not
    assert now <= deadline_ms(event, limits)


def test_function_error_resets_backoff() -> None:
    decision = decide(Result.FUNCTION_ERROR, fresh(backoffs=5), Limits(), now_ms=T0, jitter=0)
    assert isinstance(decision, Retry) and decision.event.backoffs == 0


def test_system_error_is_not_an_attempt() -> None:
    decision = decide(Result.SYSTEM_ERROR, fresh(attempts=2), Limits(), now_ms=T0, jitter=0)
    assert isinstance(decision, Retry) and decision.event.attempts == 2


def test_retries_exhausted_wins_over_age() -> None:
    limits = Limits(max_event_age_s=60, max_retry_attempts=0)
    decision = decide(Result.FUNCTION_ERROR, fresh(), limits, now_ms=T0 + 59_000, jitter=0)
    assert decision == Done(Condition.RETRIES_EXHAUSTED, 1)


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, 7.0])
def test_jitter_keeps_between_half_and_full_delay(jitter: float) -> None:
    limits = Limits(throttle_base_delay_s=1, throttle_max_delay_s=300)
    for backoffs in range(12):
        full = min(300_000, 1000 * 2**backoffs)
        delay = throttle_delay_ms(backoffs, limits, jitter)
        assert full // 2 <= delay <= full


def test_huge_backoff_count_stays_capped() -> None:
    assert throttle_delay_ms(10_000, Limits(), 0) == 300_000


def test_too_old() -> None:
    limits = Limits(max_event_age_s=60)
    assert not too_old(fresh(), limits, T0 + 60_000)
    assert too_old(fresh(), limits, T0 + 60_001)


# ---- delivery jobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("attempts", "age_ms", "permanent", "delay_ms", "limit"), [
    (1, 0, False, 1_000, None),  # first failure: retry after the base delay
    (2, 0, False, 2_000, None),  # doubling
    (3, 0, False, None, "MaximumRetryAttempts"),  # three attempts allowed in all
    (1, 59_999, False, 1_000, None),
    (1, 60_000, False, None, "MaximumEventAgeInSeconds"),  # the job's age reached max_age_s
    (3, 60_000, False, None, "MaximumRetryAttempts"),  # both: the attempts are named first
    (1, 0, True, None, None),  # a permanent failure: given up, no limit ran out
])
def test_job_retries_and_which_limit_ended_them(attempts: int, age_ms: int, permanent: bool, delay_ms: int | None,
                                                 limit: str | None) -> None:
    limits = JobLimits(max_attempts=3, base_delay_s=1.0, max_delay_s=10.0, max_age_s=60)
    assert job_retry_delay_ms(attempts, age_ms, limits, permanent=permanent) == delay_ms
    if delay_ms is None:
        assert exhausted_limit(attempts, age_ms, limits) == limit
