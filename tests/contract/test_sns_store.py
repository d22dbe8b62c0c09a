"""SNS topics and subscriptions (Store protocol): create/get/list/delete topics, attributes and tags,
subscribe (one per protocol and endpoint, confirmation jobs with it), confirm, unsubscribe, list, and
Publish's fan-out committed with the topic's confirmed subscriptions in one unit of work."""

from __future__ import annotations

import pytest

from lambdalite.faults import Fault
from lambdalite.model.queue import NewMessage
from lambdalite.model.sns import SNS_DELIVERY_KIND, SubscriptionRecord, TopicRecord
from lambdalite.store.protocol import Store
from tests.support.backends import Backend

REGION = "us-east-1"
LEASE_MS = 30_000


def topic_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:sns:{region}:000000000000:{name}"


def topic(name: str, region: str = REGION, **attributes: str) -> TopicRecord:
    return TopicRecord(topic_arn(name, region), region, name, dict(attributes), {"team": "a"}, 100)


def subscription(topic_name: str, suffix: str, protocol: str = "sqs", endpoint: str = "arn:aws:sqs:us-east-1:0:q",
                 *, confirmed: bool = True, token: str | None = None, **attributes: str) -> SubscriptionRecord:
    return SubscriptionRecord(f"{topic_arn(topic_name)}:{suffix}", topic_arn(topic_name), protocol, endpoint,
                              "000000000000", dict(attributes), confirmed, token, 10_000 if token else 0, 100)


def job(id: str) -> NewMessage:
    return NewMessage(kind=SNS_DELIVERY_KIND, queue="@sns/t", id=id, body=b"{}")


async def test_create_topic_returns_the_existing_one_and_lists_by_region(store: Store) -> None:
    created = await store.sns_create_topic(topic("a", DisplayName="first"))
    assert created == topic("a", DisplayName="first")
    again = await store.sns_create_topic(topic("a", DisplayName="second"))
    assert again.attributes == {"DisplayName": "first"}
    await store.sns_create_topic(topic("b"))
    await store.sns_create_topic(topic("c", "eu-west-1"))
    assert [t.name for t in await store.sns_list_topics(REGION, "", 10)] == ["a", "b"]
    assert [t.name for t in await store.sns_list_topics(REGION, topic_arn("a"), 10)] == ["b"]
    assert [t.name for t in await store.sns_list_topics(REGION, "", 1)] == ["a"]
    assert await store.sns_topic(topic_arn("missing")) is None


async def test_topic_attributes_merge_and_tags_replace(store: Store) -> None:
    await store.sns_create_topic(topic("t", DisplayName="x"))
    assert await store.sns_set_topic_attributes(topic_arn("t"), {"DeliveryPolicy": "{}"})
    assert await store.sns_set_topic_tags(topic_arn("t"), lambda tags: {**tags, "env": "dev"})
    stored = await store.sns_topic(topic_arn("t"))
    assert stored is not None
    assert stored.attributes == {"DisplayName": "x", "DeliveryPolicy": "{}"}
    assert stored.tags == {"team": "a", "env": "dev"}
    assert not await store.sns_set_topic_attributes(topic_arn("gone"), {"DisplayName": "y"})
    assert not await store.sns_set_topic_tags(topic_arn("gone"), dict)


async def test_a_tag_merge_that_raises_changes_nothing(store: Store) -> None:
    await store.sns_create_topic(topic("t"))

    def refuse(tags: dict[str, str]) -> dict[str, str]:
        raise Fault(400, "TagPolicyViolation", "no")

    with pytest.raises(Fault):
        await store.sns_set_topic_tags(topic_arn("t"), refuse)
    stored = await store.sns_topic(topic_arn("t"))
    assert stored is not None and stored.tags == {"team": "a"}


async def test_subscribe_is_one_per_protocol_and_endpoint_and_needs_the_topic(store: Store) -> None:
    assert await store.sns_subscribe(subscription("t", "s1"), []) is None  # no topic yet
    await store.sns_create_topic(topic("t"))
    first = await store.sns_subscribe(subscription("t", "s1", RawMessageDelivery="true"), [])
    assert first == subscription("t", "s1", RawMessageDelivery="true")
    again = await store.sns_subscribe(subscription("t", "s2"), [job("ignored")])
    assert again == first  # the existing one; its jobs are not queued
    assert await store.lease_jobs(SNS_DELIVERY_KIND, LEASE_MS, 10) == []
    other = await store.sns_subscribe(subscription("t", "s3", "lambda", "arn:aws:lambda:us-east-1:0:function:f"), [])
    assert other is not None and other.arn.endswith(":s3")
    assert await store.sns_subscription(first.arn) == first


async def test_subscribe_queues_its_jobs_with_it(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    await store.sns_subscribe(subscription("t", "h", "http", "http://x", confirmed=False, token="tok"), [job("c1")])
    assert [j.id for j in await store.lease_jobs(SNS_DELIVERY_KIND, LEASE_MS, 10)] == ["c1"]


async def test_subscription_attributes_merge_and_an_empty_value_removes_one(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    sub = await store.sns_subscribe(subscription("t", "s", FilterPolicy='{"a": ["b"]}'), [])
    assert sub is not None
    assert await store.sns_set_subscription_attributes(sub.arn, {"RawMessageDelivery": "true", "FilterPolicy": ""})
    stored = await store.sns_subscription(sub.arn)
    assert stored is not None and stored.attributes == {"RawMessageDelivery": "true"}
    assert not await store.sns_set_subscription_attributes(sub.arn + "x", {"RawMessageDelivery": "true"})


async def test_confirm_takes_an_unexpired_token_of_that_topic(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    await store.sns_create_topic(topic("u"))
    pending = subscription("t", "h", "http", "http://x", confirmed=False, token="tok")
    await store.sns_subscribe(pending, [])
    assert await store.sns_confirm_subscription(topic_arn("u"), "tok", 0) is None  # another topic
    assert await store.sns_confirm_subscription(topic_arn("t"), "tok", 20_000) is None  # expired
    confirmed = await store.sns_confirm_subscription(topic_arn("t"), "tok", 5_000)
    assert confirmed is not None and confirmed.confirmed and confirmed.arn == pending.arn
    assert await store.sns_confirm_subscription(topic_arn("t"), "tok", 20_000) == confirmed  # confirmed stays


async def test_list_subscriptions_by_region_or_topic_with_paging(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    await store.sns_create_topic(topic("u"))
    for name, suffix, endpoint in (("t", "a", "q1"), ("t", "b", "q2"), ("u", "c", "q3")):
        await store.sns_subscribe(subscription(name, suffix, endpoint=f"arn:aws:sqs:us-east-1:0:{endpoint}"), [])
    everything = await store.sns_list_subscriptions(REGION, None, "", 10)
    assert [s.arn.rsplit(":", 1)[1] for s in everything] == ["a", "b", "c"]
    of_t = await store.sns_list_subscriptions(REGION, topic_arn("t"), "", 1)
    assert [s.arn.rsplit(":", 1)[1] for s in of_t] == ["a"]
    rest = await store.sns_list_subscriptions(REGION, topic_arn("t"), of_t[0].arn, 10)
    assert [s.arn.rsplit(":", 1)[1] for s in rest] == ["b"]
    assert await store.sns_list_subscriptions("eu-west-1", None, "", 10) == []


async def test_unsubscribe_and_delete_topic_remove_subscriptions(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    a = await store.sns_subscribe(subscription("t", "a", endpoint="arn:aws:sqs:us-east-1:0:q1"), [])
    b = await store.sns_subscribe(subscription("t", "b", endpoint="arn:aws:sqs:us-east-1:0:q2"), [])
    assert a is not None and b is not None
    await store.sns_unsubscribe(a.arn)
    await store.sns_unsubscribe(a.arn)  # twice: nothing
    assert await store.sns_subscription(a.arn) is None
    await store.sns_delete_topic(topic_arn("t"))
    await store.sns_delete_topic(topic_arn("t"))
    assert await store.sns_topic(topic_arn("t")) is None
    assert await store.sns_subscription(b.arn) is None


async def test_publish_fans_out_over_confirmed_subscriptions_in_one_unit(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    await store.sns_subscribe(subscription("t", "a", endpoint="arn:aws:sqs:us-east-1:0:q1"), [])
    await store.sns_subscribe(subscription("t", "p", "http", "http://x", confirmed=False, token="tok"), [])
    seen: list[str] = []

    def fan_out(subscriptions: list[SubscriptionRecord]) -> list[NewMessage]:
        seen.extend(s.arn.rsplit(":", 1)[1] for s in subscriptions)
        return [job(f"m1/{s.arn.rsplit(':', 1)[1]}") for s in subscriptions]

    assert await store.sns_publish(topic_arn("t"), fan_out)
    assert seen == ["a"]  # the pending http subscription gets nothing
    assert [j.id for j in await store.lease_jobs(SNS_DELIVERY_KIND, LEASE_MS, 10)] == ["m1/a"]
    assert not await store.sns_publish(topic_arn("missing"), fan_out)


async def test_publish_whose_fan_out_raises_queues_nothing(store: Store) -> None:
    await store.sns_create_topic(topic("t"))
    await store.sns_subscribe(subscription("t", "a"), [])

    def broken(subscriptions: list[SubscriptionRecord]) -> list[NewMessage]:
        raise Fault(400, "InvalidParameter", "no")

    with pytest.raises(Fault):
        await store.sns_publish(topic_arn("t"), broken)
    assert await store.lease_jobs(SNS_DELIVERY_KIND, LEASE_MS, 10) == []


async def test_topics_and_subscriptions_are_seen_by_another_process(backend: Backend) -> None:
    writer, reader = backend.open(), backend.open()
    await writer.sns_create_topic(topic("t"))
    await writer.sns_subscribe(subscription("t", "a"), [])
    assert await reader.sns_topic(topic_arn("t")) == topic("t")
    assert [s.arn for s in await reader.sns_list_subscriptions(REGION, topic_arn("t"), "", 10)] == [
        subscription("t", "a").arn]


async def test_delivery_report_counts_pending_deliveries_per_topic(store: Store) -> None:
    await store.enqueue_jobs([NewMessage(kind=SNS_DELIVERY_KIND, queue=f"@sns/{topic_arn('t')}", id=f"m{i}",
                                         body=b"{}") for i in range(3)])
    [leased] = await store.lease_jobs(SNS_DELIVERY_KIND, LEASE_MS, 1)
    [row] = await store.sns_delivery_report(leased.sent_ms + 1)
    assert (row.function, row.queued, row.in_flight, row.delayed) == (topic_arn("t"), 2, 1, 0)
