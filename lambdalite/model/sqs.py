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


# A message move task's statuses, as ListMessageMoveTasks shows them.
RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"
ACTIVE = (RUNNING, CANCELLING)


@dataclass(frozen=True, slots=True)
class MoveTaskRecord:
    """One StartMessageMoveTask, kept where every node sees it; `owner`/`heartbeat_ms`: the runner moving
    it now and when it last reported (a runner silent past the lease is replaced by another node's)."""

    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None  # MaxNumberOfMessagesPerSecond
    to_move: int
    started_ms: int
    status: str = RUNNING
    moved: int = 0
    failure: str | None = None
    owner: str | None = None
    heartbeat_ms: int = 0
