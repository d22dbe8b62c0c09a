"""EventBridge destination: one PutEvents entry, source "lambda", detail = the invocation record."""

from __future__ import annotations

from lambdalite import arn
from lambdalite.destinations.record import eventbridge_entry
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node


async def deliver(node: Node, outcome: Outcome, bus_arn: str) -> None:
    parsed = arn.parse(bus_arn)
    region = parsed.region if parsed is not None and parsed.region else outcome.region
    try:
        results = await ports(node).put_events(region, [eventbridge_entry(outcome, bus_arn)], outcome.trace_id)
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None
    failed = [r for r in results or [] if r.get("ErrorCode")]
    if failed:
        raise DeliveryError(f"{failed[0].get('ErrorCode')}: {failed[0].get('ErrorMessage', '')}")
