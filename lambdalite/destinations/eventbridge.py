"""EventBridge destination: one PutEvents entry, source "lambda", detail = the invocation record."""

from __future__ import annotations

from typing import Any

from lambdalite.destinations import arns
from lambdalite.destinations.record import eventbridge_entry
from lambdalite.destinations.targets import DeliveryError, call
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node
from lambdalite.services.http import AwsError


async def deliver(node: Node, outcome: Outcome, bus_arn: str) -> None:
    from lambdalite.services import events as events_service

    parsed = arns.parse(bus_arn)
    region = parsed.region if parsed is not None and parsed.region else outcome.region
    try:
        results: list[dict[str, Any]] = await call(
            events_service.put_events_internal, node, region, [eventbridge_entry(outcome, bus_arn)], outcome.trace_id
        )
    except AwsError as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None
    failed = [r for r in results or [] if r.get("ErrorCode")]
    if failed:
        raise DeliveryError(f"{failed[0].get('ErrorCode')}: {failed[0].get('ErrorMessage', '')}")
