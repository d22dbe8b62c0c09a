"""SNS topics and subscriptions as every backend returns them, and the names of SNS's delivery jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

SNS_DELIVERY_KIND = "sns-delivery"  # one job per (message, subscription): worker/jobs.py runs them
PENDING_CONFIRMATION = "PendingConfirmation"  # how an unconfirmed subscription's ARN is listed
PROTOCOLS = ("lambda", "sqs", "http", "https")  # the protocols lambdalite delivers to


@dataclass(frozen=True, slots=True)
class TopicRecord:
    arn: str
    region: str
    name: str
    attributes: dict[str, str] = field(default_factory=dict)  # the settable ones (DisplayName, Policy, ...)
    tags: dict[str, str] = field(default_factory=dict)
    created_ms: int = 0


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    # The settable ones as set: RawMessageDelivery, FilterPolicy, FilterPolicyScope, RedrivePolicy, DeliveryPolicy.
    attributes: dict[str, str] = field(default_factory=dict)
    confirmed: bool = True
    token: str | None = None  # http(s): the confirmation token until confirmed
    token_expires_ms: int = 0
    created_ms: int = 0


def delivery_queue(topic_arn: str) -> str:
    """The queue-engine queue holding a topic's pending deliveries (for `lambdalite queue` and inspection)."""
    return f"@sns/{topic_arn}"
