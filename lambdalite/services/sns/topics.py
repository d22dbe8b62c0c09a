"""Topic operations: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes, tags."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.destinations.sns_retry import DEFAULT_HTTP_POLICY
from lambdalite.model.sns import TopicRecord
from lambdalite.services.sns import errors
from lambdalite.services.sns.common import Ctx, check_arn, page, require_topic, string_map, valid_topic_name
from lambdalite.services.sns.query import el, entries, members

PAGE_SIZE = 100
SETTABLE = frozenset({
    "DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "TracingConfig", "SignatureVersion",
    "MaximumMessageSize",
    "ContentBasedDeduplication", "FifoTopic", "ArchivePolicy", "DataProtectionPolicy", "FifoThroughputScope",
    "HTTPSuccessFeedbackRoleArn", "HTTPFailureFeedbackRoleArn", "HTTPSuccessFeedbackSampleRate",
    "LambdaSuccessFeedbackRoleArn", "LambdaFailureFeedbackRoleArn", "LambdaSuccessFeedbackSampleRate",
    "SQSSuccessFeedbackRoleArn", "SQSFailureFeedbackRoleArn", "SQSSuccessFeedbackSampleRate",
})
_ACTIONS = ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
            "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"]


def default_policy(arn: str, account: str) -> str:
    return orjson.dumps({
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": _ACTIONS, "Resource": arn,
                       "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}],
    }).decode()


def effective_delivery_policy(topic: TopicRecord) -> str:
    policy = {"http": {"defaultHealthyRetryPolicy": DEFAULT_HTTP_POLICY, "disableSubscriptionOverrides": False,
                       "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}}
    if topic.attributes.get("DeliveryPolicy"):
        with contextlib.suppress(orjson.JSONDecodeError):
            policy = orjson.loads(topic.attributes["DeliveryPolicy"])
    return orjson.dumps(policy).decode()


def _check_attributes(attributes: dict[str, str], prefix: str = "Attributes Reason: ") -> None:
    for name, value in attributes.items():
        if name not in SETTABLE:
            raise errors.invalid(f"{prefix}Invalid attribute name: {name}" if prefix else "AttributeName")
        if name == "SignatureVersion" and value not in ("1", "2"):
            raise errors.invalid(f"{prefix}SignatureVersion: Invalid value [{value}]. Must be 1 or 2.")
        if name == "MaximumMessageSize" and not (value.isdigit() and 1024 <= int(value) <= 1_048_576):
            raise errors.invalid(f"{prefix}MaximumMessageSize: Invalid value [{value}]. "
                                 "Must be between 1024 and 1048576.")
        if name in ("Policy", "DeliveryPolicy") and value:
            try:
                orjson.loads(value)
            except orjson.JSONDecodeError:
                raise errors.invalid(f"{prefix}{name}: failed to parse JSON.") from None


async def create_topic(ctx: Ctx, params: dict[str, Any]) -> str:
    name = params.get("Name")
    if not isinstance(name, str) or not valid_topic_name(name):
        raise errors.invalid("Topic Name")
    attributes = string_map(params.get("Attributes"))
    _check_attributes(attributes)
    tags = {str(t.get("Key", "")): str(t.get("Value", "")) for t in params.get("Tags") or [] if isinstance(t, dict)}
    record = TopicRecord(ctx.topic_arn(name), ctx.region, name, attributes, tags, now_ms())
    stored = await ctx.node.store.sns_create_topic(record)
    if stored is not record and any(stored.attributes.get(k, "") != v for k, v in attributes.items()):
        raise errors.invalid("Attributes Reason: Topic already exists with different attributes")
    return el("TopicArn", stored.arn)


async def delete_topic(ctx: Ctx, params: dict[str, Any]) -> None:
    arn = check_arn(params.get("TopicArn"), "TopicArn")
    await ctx.node.store.sns_delete_topic(arn)


async def list_topics(ctx: Ctx, params: dict[str, Any]) -> str:
    topics = await ctx.node.store.sns_list_topics(ctx.region, page(params), PAGE_SIZE + 1)
    more = len(topics) > PAGE_SIZE
    topics = topics[:PAGE_SIZE]
    out = members("Topics", (el("TopicArn", t.arn) for t in topics))
    return out + (el("NextToken", topics[-1].arn) if more else "")


async def get_topic_attributes(ctx: Ctx, params: dict[str, Any]) -> str:
    topic = await require_topic(ctx, params.get("TopicArn"))
    subscriptions = await ctx.node.store.sns_list_subscriptions(ctx.region, topic.arn, "", 1_000_000)
    pending = sum(1 for s in subscriptions if not s.confirmed)
    values = {
        "Policy": default_policy(topic.arn, ctx.account), "Owner": ctx.account,
        "SubscriptionsPending": str(pending), "TopicArn": topic.arn,
        "EffectiveDeliveryPolicy": effective_delivery_policy(topic),
        "SubscriptionsConfirmed": str(len(subscriptions) - pending), "DisplayName": "",
        "SubscriptionsDeleted": "0",
        **{k: v for k, v in topic.attributes.items()},
    }
    return entries("Attributes", values)


async def set_topic_attributes(ctx: Ctx, params: dict[str, Any]) -> None:
    topic = await require_topic(ctx, params.get("TopicArn"))
    name = params.get("AttributeName")
    if not isinstance(name, str) or name not in SETTABLE:
        raise errors.invalid("AttributeName")
    value = str(params.get("AttributeValue") or "")
    _check_attributes({name: value}, prefix="")
    await ctx.node.store.sns_set_topic_attributes(topic.arn, {name: value})


def _tags_of(params: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("Key", "")): str(t.get("Value", "")) for t in params.get("Tags") or [] if isinstance(t, dict)}


async def tag_resource(ctx: Ctx, params: dict[str, Any]) -> str:
    topic = await require_topic(ctx, params.get("ResourceArn"), "ResourceArn")
    added = _tags_of(params)
    await ctx.node.store.sns_set_topic_tags(topic.arn, lambda tags: {**tags, **added})
    return ""  # an empty TagResourceResult (botocore expects the element)


async def untag_resource(ctx: Ctx, params: dict[str, Any]) -> str:
    topic = await require_topic(ctx, params.get("ResourceArn"), "ResourceArn")
    keys = {str(k) for k in params.get("TagKeys") or []}
    await ctx.node.store.sns_set_topic_tags(topic.arn, lambda tags: {k: v for k, v in tags.items() if k not in keys})
    return ""


async def list_tags_for_resource(ctx: Ctx, params: dict[str, Any]) -> str:
    topic = await require_topic(ctx, params.get("ResourceArn"), "ResourceArn")
    return members("Tags", (el("Key", k) + el("Value", v) for k, v in topic.tags.items()))


