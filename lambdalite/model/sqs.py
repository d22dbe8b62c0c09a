"""An SQS queue's metadata as every backend returns it (its messages live in the queue engine)."""

from __future__ import annotations

from dataclasses import dataclass


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
