"""Publish to a topic from anywhere in lambdalite (the SNS API, Lambda destinations and DLQs).

The message's deliveries (one job per matching subscription) are committed in the same unit of work
that reads the subscriptions: once this returns, every delivery is durable.
"""

from __future__ import annotations

from lambdalite.destinations import sns_metrics
from lambdalite.destinations.sns_message import Published, fan_out
from lambdalite.node import Node
from lambdalite.wakeups import JOBS


async def publish(node: Node, published: Published) -> bool:
    """Commit the message's deliveries; False when the topic does not exist."""
    if not await node.store.sns_publish(published.topic_arn, fan_out(published)):
        return False
    node.wakeups.notify(JOBS)
    sns_metrics.PUBLISHED.labels(sns_metrics.topic_name(published.topic_arn)).inc()
    return True
