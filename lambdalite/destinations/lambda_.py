"""Lambda destination: an asynchronous invoke of the target function with the record as its event."""

from __future__ import annotations

from lambdalite.destinations import arns
from lambdalite.destinations.record import record_bytes
from lambdalite.destinations.targets import DeliveryError, call
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node
from lambdalite.services.http import AwsError


async def deliver(node: Node, outcome: Outcome, function_arn: str) -> None:
    from lambdalite.services.lambda_api import invoke_async

    parsed = arns.parse(function_arn)
    region = parsed.region if parsed is not None and parsed.region else outcome.region
    try:
        await call(invoke_async.enqueue_event, node, function_arn, record_bytes(outcome), region,
                   outcome.trace_id)
    except AwsError as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None
