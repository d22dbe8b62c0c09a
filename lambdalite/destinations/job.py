"""A delivery job: one outcome bound for one target, as stored in the queue engine (kind "delivery").

Body: the Outcome's JSON (the record is rebuilt from it at delivery, identically each time).
Attrs: which side fired (`on_success`, `on_failure`, `dead_letter`) and the target ARN.
Id: `<request id>/<side>`, so an event that ends twice (at-least-once) while its first delivery is still
pending does not queue the same delivery twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson

from lambdalite.model.outcome import Outcome


class Side(StrEnum):
    ON_SUCCESS = "on_success"
    ON_FAILURE = "on_failure"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Target:
    side: Side
    arn: str

    def to_attrs(self) -> bytes:
        return orjson.dumps({"side": self.side.value, "arn": self.arn})

    @classmethod
    def from_attrs(cls, raw: bytes | str | None) -> Target:
        data = orjson.loads(raw or b"{}")
        return cls(Side(data["side"]), str(data["arn"]))


def queue_name(outcome: Outcome) -> str:
    """Delivery jobs are grouped per function (for inspection); the loop leases across all of them."""
    return f"@delivery/{outcome.function}"


def job_id(outcome: Outcome, side: Side) -> str:
    return f"{outcome.request_id}/{side.value}"


def targets_of(
    outcome: Outcome, *, on_success: str | None, on_failure: str | None, dead_letter: str | None
) -> list[Target]:
    """Which targets an outcome goes to: OnSuccess on success; OnFailure and the DLQ otherwise."""
    if outcome.succeeded:
        return [Target(Side.ON_SUCCESS, on_success)] if on_success else []
    targets = []
    if on_failure:
        targets.append(Target(Side.ON_FAILURE, on_failure))
    if dead_letter:
        targets.append(Target(Side.DEAD_LETTER, dead_letter))
    return targets
