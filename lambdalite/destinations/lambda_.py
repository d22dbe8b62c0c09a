"""Lambda destination: an asynchronous invoke of the target function with the record as its event."""

from __future__ import annotations

from lambdalite import arn
from lambdalite.accept import enqueue_event
from lambdalite.destinations.record import record_bytes
from lambdalite.destinations.targets import DeliveryError
from lambdalite.faults import Fault
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node


async def deliver(node: Node, outcome: Outcome, function_arn: str) -> None:
    parsed = arn.parse(function_arn)
    region = parsed.region if parsed is not None and parsed.region else outcome.region
    try:
        await enqueue_event(node, function_arn, record_bytes(outcome), region, outcome.trace_id)
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None
