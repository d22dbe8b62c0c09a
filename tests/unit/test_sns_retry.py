"""SNS's delivery retry schedules (pure): AWS-managed endpoints and the http(s) delivery policy."""

from __future__ import annotations

import json

from lambdalite.destinations.sns_retry import MANAGED, http_schedule


def test_managed_endpoints_schedule() -> None:
    delays = [MANAGED.delay_s(attempt) or 0.0 for attempt in range(1, 18)]
    assert delays[:5] == [0.0, 0.0, 0.0, 1.0, 1.0]  # 3 immediate retries, 2 one second apart
    backoff = delays[5:15]
    assert backoff[0] == 1.0 and backoff[-1] == 20.0 and backoff == sorted(backoff)
    assert delays[15:] == [20.0, 20.0]
    assert MANAGED.attempts == 100_016
    assert MANAGED.delay_s(100_015) == 20.0 and MANAGED.delay_s(100_016) is None


def test_http_default_is_three_retries_twenty_seconds_apart() -> None:
    schedule = http_schedule(None, None)
    assert [schedule.delay_s(a) for a in range(1, 5)] == [20.0, 20.0, 20.0, None]


def test_subscription_policy_wins_over_the_topics() -> None:
    topic = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2,
                                                               "maxDelayTarget": 2}}})
    assert http_schedule(None, topic).attempts == 6
    sub = json.dumps({"healthyRetryPolicy": {"numRetries": 4, "numNoDelayRetries": 1, "numMinDelayRetries": 1,
                                             "minDelayTarget": 1, "maxDelayTarget": 9, "numMaxDelayRetries": 1,
                                             "backoffFunction": "linear"}})
    schedule = http_schedule(sub, topic)
    # no-delay, min-delay, a one-step backoff (ends at the max), max-delay
    assert [schedule.delay_s(a) for a in range(1, 6)] == [0.0, 1.0, 9.0, 9.0, None]
