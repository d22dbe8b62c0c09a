"""SNS's per-topic counters with CloudWatch's AWS/SNS names, on lambdalite's one metrics registry."""

from __future__ import annotations

from prometheus_client import Counter

from lambdalite.metrics import REGISTRY

_TOPIC = ("TopicName",)
PUBLISHED = Counter("sns_NumberOfMessagesPublished", "Messages published to the topic", _TOPIC, registry=REGISTRY)
DELIVERED = Counter("sns_NumberOfNotificationsDelivered", "Deliveries that arrived", _TOPIC, registry=REGISTRY)
FAILED = Counter("sns_NumberOfNotificationsFailed", "Deliveries given up after the retry policy", _TOPIC,
                 registry=REGISTRY)
REDRIVEN = Counter("sns_NumberOfNotificationsRedrivenToDlq", "Deliveries sent to the subscription's DLQ", _TOPIC,
                   registry=REGISTRY)


def topic_name(topic_arn: str) -> str:
    return topic_arn.rsplit(":", 1)[-1]
