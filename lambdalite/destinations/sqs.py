"""SQS destination: the message body is the invocation record."""

from __future__ import annotations

from lambdalite.destinations.record import record_bytes
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node


async def send(node: Node, queue_arn: str, body: str, attributes: dict[str, dict[str, str]] | None) -> str:
    """Put one message on a lambdalite SQS queue; DeliveryError when the queue refuses it."""
    try:
        return await ports(node).send_sqs(queue_arn, body, attributes)
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None


async def deliver(node: Node, outcome: Outcome, queue_arn: str) -> None:
    await send(node, queue_arn, record_bytes(outcome).decode(), None)
