"""An SQS queue's metadata as every backend returns it (its messages live in the queue engine)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class QueueRecord:
    region: str
    name: str
    arn: str
    attrs: dict[str, str]  # settable attributes as AWS returns them (strings), defaults filled in
    tags: dict[str, str]
    created_s: int
    modified_s: int


@dataclass(frozen=True, slots=True)
class VisibilityChange:
    """ChangeMessageVisibility of one received message (its receipt must still be the current one)."""

    message_id: str
    receipt: str
    timeout_s: int


def redrive_of(attrs: Mapping[str, str]) -> tuple[str, int] | None:
    """(dead-letter queue ARN, maxReceiveCount) of a queue's attributes, if it has a redrive policy."""
    raw = attrs.get("RedrivePolicy")
    if not raw:
        return None
    policy = orjson.loads(raw)
    return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])
