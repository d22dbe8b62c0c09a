"""Subscription operations: Subscribe, ConfirmSubscription, Unsubscribe, List*, Get/SetSubscriptionAttributes."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.destinations.sns_filter import FilterPolicy, PolicyError
from lambdalite.destinations.sns_message import confirmation_spec, job
from lambdalite.model.sns import PENDING_CONFIRMATION, PROTOCOLS, SubscriptionRecord
from lambdalite.services.sns import errors
from lambdalite.services.sns.common import (
    Ctx,
    check_arn,
    page,
    require_subscription,
    require_topic,
    string_map,
)
from lambdalite.services.sns.query import el, entries, members
from lambdalite.wakeups import JOBS

PAGE_SIZE = 100
TOKEN_LIFETIME_MS = 2 * 86_400_000
SETTABLE = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
_SCOPES = ("MessageAttributes", "MessageBody")
_SQS_ARN = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?")
_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?")


def _check_endpoint(protocol: str, endpoint: str) -> None:
    if protocol == "sqs" and not _SQS_ARN.fullmatch(endpoint):
        raise errors.invalid("SQS endpoint ARN")
    if protocol == "lambda" and not _LAMBDA_ARN.fullmatch(endpoint):
        raise errors.invalid("Lambda endpoint ARN")
    if protocol in ("http", "https") and not endpoint.lower().startswith(f"{protocol}://"):
        raise errors.invalid("Endpoint must match the specified protocol")


def _check_attribute(name: str, value: str, attributes: dict[str, str], prefix: str) -> str:
    """The value to store (validated), or raise AWS's error (`prefix`: "Attributes Reason: " on Subscribe)."""
    if name not in SETTABLE:
        raise errors.invalid(f"{prefix}Invalid attribute name: {name}" if prefix else "AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise errors.invalid(f"{prefix}RawMessageDelivery: Invalid value [{value}]. Must be true or false.")
        return value.lower()
    if name == "FilterPolicyScope" and value not in _SCOPES:
        raise errors.invalid(f"{prefix}FilterPolicyScope: Invalid value [{value}]. "
                             "Please use either MessageBody or MessageAttributes")
    if name == "FilterPolicy" and value:
        try:
            FilterPolicy.parse(value, attributes.get("FilterPolicyScope", "MessageAttributes"))
        except PolicyError as err:
            raise errors.invalid(f"{prefix}FilterPolicy: {err}") from None
    if name == "RedrivePolicy" and value:
        _check_redrive(value, prefix)
    if name == "DeliveryPolicy" and value:
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            raise errors.invalid(f"{prefix}DeliveryPolicy: failed to parse JSON.") from None
    return value


def _check_redrive(value: str, prefix: str) -> None:
    try:
        policy = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise errors.invalid(f"{prefix}RedrivePolicy: failed to parse JSON.") from None
    target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
    if not isinstance(target, str) or not _SQS_ARN.fullmatch(target):
        raise errors.invalid(f"{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn")


def _checked(given: dict[str, str], current: dict[str, str], prefix: str) -> dict[str, str]:
    """Validate attributes in an order where FilterPolicyScope is known before FilterPolicy."""
    merged = {**current, **given}
    out = {}
    for name in sorted(given, key=lambda n: n != "FilterPolicyScope"):
        out[name] = _check_attribute(name, given[name], merged, prefix)
    if "FilterPolicyScope" in out and "FilterPolicy" not in out and merged.get("FilterPolicy"):
        _check_attribute("FilterPolicy", merged["FilterPolicy"], merged, prefix)
    return out


async def subscribe(ctx: Ctx, params: dict[str, Any]) -> str:
    topic = await require_topic(ctx, params.get("TopicArn"))
    protocol = str(params.get("Protocol") or "")
    if protocol not in PROTOCOLS:
        raise errors.invalid(f"Amazon SNS does not support this protocol string: {protocol}")
    endpoint = str(params.get("Endpoint") or "")
    _check_endpoint(protocol, endpoint)
    attributes = _checked(string_map(params.get("Attributes")), {}, "Attributes Reason: ")
    attributes = {k: v for k, v in attributes.items() if v != ""}
    pending = protocol in ("http", "https")
    record = SubscriptionRecord(
        arn=f"{topic.arn}:{uuid.uuid4()}", topic_arn=topic.arn, protocol=protocol, endpoint=endpoint,
        owner=ctx.account, attributes=attributes, confirmed=not pending,
        token=secrets.token_hex(64) if pending else None, token_expires_ms=now_ms() + TOKEN_LIFETIME_MS,
        created_ms=now_ms())
    jobs = [job(confirmation_spec(record, str(uuid.uuid4()), now_ms()), f"confirm/{record.arn}")] if pending else []
    stored = await ctx.node.store.sns_subscribe(record, jobs)
    if stored is None:
        raise errors.topic_missing()
    if stored is not record and any(stored.attributes.get(k) != v for k, v in attributes.items()):
        raise errors.invalid("Attributes Reason: Subscription already exists with different attributes")
    if jobs and stored is record:
        ctx.node.wakeups.notify(JOBS)
    show_arn = stored.confirmed or str(params.get("ReturnSubscriptionArn", "")).lower() == "true"
    return el("SubscriptionArn", stored.arn if show_arn else "pending confirmation")


async def confirm_subscription(ctx: Ctx, params: dict[str, Any]) -> str:
    topic_arn = params.get("TopicArn")
    if not isinstance(topic_arn, str) or len(topic_arn.split(":")) != 6:
        raise errors.invalid("Topic")
    token = params.get("Token")
    if not isinstance(token, str) or not token:
        raise errors.invalid("Token")
    if await ctx.node.store.sns_topic(topic_arn) is None:
        raise errors.topic_missing()
    confirmed = await ctx.node.store.sns_confirm_subscription(topic_arn, token, now_ms())
    if confirmed is None:
        raise errors.invalid("Token")
    return el("SubscriptionArn", confirmed.arn)


async def unsubscribe(ctx: Ctx, params: dict[str, Any]) -> None:
    arn = check_arn(params.get("SubscriptionArn"), "SubscriptionArn")
    if len(arn.split(":")) != 7:
        raise errors.invalid("SubscriptionId")
    await ctx.node.store.sns_unsubscribe(arn)


def _member(subscription: SubscriptionRecord) -> str:
    arn = subscription.arn if subscription.confirmed else PENDING_CONFIRMATION
    return (el("SubscriptionArn", arn) + el("Owner", subscription.owner) + el("Protocol", subscription.protocol)
            + el("Endpoint", subscription.endpoint) + el("TopicArn", subscription.topic_arn))


async def _list(ctx: Ctx, topic_arn: str | None, params: dict[str, Any]) -> str:
    found = await ctx.node.store.sns_list_subscriptions(ctx.region, topic_arn, page(params), PAGE_SIZE + 1)
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return members("Subscriptions", (_member(s) for s in found)) + (el("NextToken", found[-1].arn) if more else "")


async def list_subscriptions(ctx: Ctx, params: dict[str, Any]) -> str:
    return await _list(ctx, None, params)


async def list_subscriptions_by_topic(ctx: Ctx, params: dict[str, Any]) -> str:
    topic = await require_topic(ctx, params.get("TopicArn"))
    return await _list(ctx, topic.arn, params)


async def get_subscription_attributes(ctx: Ctx, params: dict[str, Any]) -> str:
    sub = await require_subscription(ctx, params.get("SubscriptionArn"))
    values = {
        "ConfirmationWasAuthenticated": "true", "Endpoint": sub.endpoint, "Owner": sub.owner,
        "PendingConfirmation": "false" if sub.confirmed else "true", "Protocol": sub.protocol,
        "RawMessageDelivery": sub.attributes.get("RawMessageDelivery", "false"), "SubscriptionArn": sub.arn,
        "SubscriptionPrincipal": f"arn:aws:iam::{ctx.account}:root", "TopicArn": sub.topic_arn,
    }
    if sub.attributes.get("FilterPolicy"):
        values["FilterPolicy"] = sub.attributes["FilterPolicy"]
        values["FilterPolicyScope"] = sub.attributes.get("FilterPolicyScope", "MessageAttributes")
    for name in ("RedrivePolicy", "DeliveryPolicy"):
        if sub.attributes.get(name):
            values[name] = sub.attributes[name]
    return entries("Attributes", values)


async def set_subscription_attributes(ctx: Ctx, params: dict[str, Any]) -> None:
    sub = await require_subscription(ctx, params.get("SubscriptionArn"))
    name = params.get("AttributeName")
    if not isinstance(name, str) or name not in SETTABLE:
        raise errors.invalid("AttributeName")
    value = str(params.get("AttributeValue") or "")
    checked = _checked({name: value}, sub.attributes, "")
    if name == "FilterPolicy" and not value:
        checked["FilterPolicyScope"] = ""  # removing the policy removes its scope too
    await ctx.node.store.sns_set_subscription_attributes(sub.arn, checked)
