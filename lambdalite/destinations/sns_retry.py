"""SNS's delivery retry policies (contract 1.4), pure: the delay before each next attempt, or give up.

`lambda` and `sqs` (AWS-managed endpoints): 3 retries at once, 2 one second apart, 10 backing off from
1 s to 20 s, then every 20 s, 100,000 times (about 23 days). `http(s)`: the delivery policy's
healthyRetryPolicy (subscription's, else the topic's `http.defaultHealthyRetryPolicy`, else AWS's
default: 3 retries 20 s apart). Every delay is multiplied by `scale` (LAMBDALITE_SNS_RETRY_SCALE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

_MANAGED = ((3, 0.0), (2, 1.0))  # (retries, delay) before the backoff phase
_MANAGED_BACKOFF = (10, 1.0, 20.0)  # retries, from, to
_MANAGED_AFTER = (100_000, 20.0)

DEFAULT_HTTP_POLICY: dict[str, Any] = {
    "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear",
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """The phases of one retry policy: no-delay, min-delay, backoff (from min to max), max-delay."""

    no_delay: int
    min_delay: int
    min_delay_s: float
    backoff: int
    max_delay_s: float
    max_delay: int
    function: str = "exponential"

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and every retry."""
        return 1 + self.no_delay + self.min_delay + self.backoff + self.max_delay

    def delay_s(self, attempt: int) -> float | None:
        """After failed attempt number `attempt` (1-based): seconds until the next one, None when none is left."""
        retry = attempt  # the retry about to be scheduled, 1-based
        if retry >= self.attempts:
            return None
        if retry <= self.no_delay:
            return 0.0
        retry -= self.no_delay
        if retry <= self.min_delay:
            return self.min_delay_s
        retry -= self.min_delay
        if retry <= self.backoff:
            return _backoff(self.function, retry, self.backoff, self.min_delay_s, self.max_delay_s)
        return self.max_delay_s


def _backoff(function: str, step: int, steps: int, low_s: float, high_s: float) -> float:
    if steps <= 1 or high_s <= low_s:
        return high_s
    fraction = (step - 1) / (steps - 1)
    if function in ("linear", "arithmetic"):
        return low_s + (high_s - low_s) * fraction
    return float(low_s * (high_s / max(low_s, 1e-9)) ** fraction)  # geometric, exponential


MANAGED = Schedule(no_delay=_MANAGED[0][0], min_delay=_MANAGED[1][0], min_delay_s=_MANAGED[1][1],
                   backoff=_MANAGED_BACKOFF[0], max_delay_s=_MANAGED_AFTER[1], max_delay=_MANAGED_AFTER[0])


def http_schedule(subscription_policy: str | None, topic_policy: str | None) -> Schedule:
    """The healthyRetryPolicy an http(s) subscription delivers with."""
    policy = dict(DEFAULT_HTTP_POLICY)
    for raw, path in ((topic_policy, ("http", "defaultHealthyRetryPolicy")), (subscription_policy,
                                                                              ("healthyRetryPolicy",))):
        found = _dig(raw, path)
        if isinstance(found, dict):
            policy.update(found)
    retries = int(policy["numRetries"])
    no_delay, min_delay, max_delay = (int(policy[k]) for k in ("numNoDelayRetries", "numMinDelayRetries",
                                                               "numMaxDelayRetries"))
    backoff = max(0, retries - no_delay - min_delay - max_delay)
    return Schedule(no_delay, min_delay, float(policy["minDelayTarget"]), backoff, float(policy["maxDelayTarget"]),
                    max_delay, str(policy.get("backoffFunction", "linear")))


def _dig(raw: str | None, path: tuple[str, ...]) -> Any:
    if not raw:
        return None
    try:
        node: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
