"""What every SNS operation shares: the request context, ARN checks, attribute-map helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lambdalite.model.sns import SubscriptionRecord, TopicRecord
from lambdalite.node import Node
from lambdalite.services.sns import errors

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}(\.fifo)?")


@dataclass(frozen=True, slots=True)
class Ctx:
    node: Node
    region: str

    @property
    def account(self) -> str:
        return self.node.settings.account_id

    def topic_arn(self, name: str) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:{name}"


def valid_topic_name(name: str) -> bool:
    return bool(_TOPIC_NAME.fullmatch(name)) and len(name) <= 256


def check_arn(value: Any, member: str) -> str:
    """A well-formed ARN in `member`, else AWS's `An ARN must have at least 6 elements` error."""
    text = value if isinstance(value, str) else ""
    parts = text.split(":")
    if len(parts) < 6:
        raise errors.invalid(f"{member} Reason: An ARN must have at least 6 elements, not {len(parts)}")
    if parts[0] != "arn" or parts[2] != "sns":
        raise errors.invalid(member)
    return text


async def require_topic(ctx: Ctx, value: Any, member: str = "TopicArn") -> TopicRecord:
    arn = check_arn(value, member)
    if len(arn.split(":")) != 6:
        raise errors.invalid(member)
    topic = await ctx.node.store.sns_topic(arn)
    if topic is None:
        raise errors.topic_missing()
    return topic


async def require_subscription(ctx: Ctx, value: Any) -> SubscriptionRecord:
    arn = check_arn(value, "SubscriptionArn")
    if len(arn.split(":")) != 7:
        raise errors.invalid("SubscriptionId")
    subscription = await ctx.node.store.sns_subscription(arn)
    if subscription is None:
        raise errors.subscription_missing()
    return subscription


def string_map(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def page(params: dict[str, Any]) -> str:
    token = params.get("NextToken")
    return token if isinstance(token, str) else ""
