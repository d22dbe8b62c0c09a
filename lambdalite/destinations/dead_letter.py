"""Dead-letter queue: the original event's bytes, with RequestID, ErrorCode and ErrorMessage attributes."""

from __future__ import annotations

from lambdalite import arn
from lambdalite.destinations import sns, sqs
from lambdalite.destinations.record import dead_letter_message
from lambdalite.destinations.targets import unsupported
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node


async def deliver(node: Node, outcome: Outcome, target_arn: str) -> None:
    service = arn.service_of(target_arn)
    if service == "sns":
        await sns.dead_letter(node, outcome, target_arn)
        return
    if service != "sqs":
        raise unsupported(service, target_arn)
    body, attributes = dead_letter_message(outcome)
    await sqs.send(node, target_arn, body, attributes)
