"""Sending to an SQS queue from inside lambdalite (destinations, dead-letter queues, EventBridge targets):
validated and stored exactly as a client's SendMessage, with the sender id AWS's services show."""

from __future__ import annotations

from typing import Any

from lambdalite.node import Node
from lambdalite.services.sqs import errors
from lambdalite.services.sqs.send import prepare, store_messages

_SENDER = "AIDAIENQZJOLO23YVJ4VO"  # what a service-sent message reports as SenderId


async def deliver_message(
    node: Node, queue_arn: str, body: str, message_attributes: dict[str, dict[str, Any]] | None = None
) -> str:
    """Enqueue and commit; returns the message id. QueueDoesNotExist / UnsupportedOperation (FIFO) raise."""
    if queue_arn.endswith(".fifo"):
        raise errors.fifo_unsupported()
    record = await node.store.sqs_queue_by_arn(queue_arn)
    if record is None:
        raise errors.no_queue()
    # An empty value (say, an empty ErrorMessage) would fail validation: leave that attribute out instead.
    kept = {k: v for k, v in (message_attributes or {}).items()
            if v.get("StringValue") != "" and v.get("BinaryValue") != ""}
    prepared = prepare(record, {"MessageBody": body, "MessageAttributes": kept}, _SENDER)
    await store_messages(node, record.arn, [prepared])
    return prepared.id
