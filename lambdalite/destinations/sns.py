"""SNS as a Lambda destination and dead-letter target: a Publish to the topic (contract 1.4).

Destination: the message is the invocation record (over 256 KB, without its request and response
payloads). Dead-letter: the original event, with RequestID, ErrorCode and ErrorMessage attributes. The
message id is derived from the event and side, so a delivery job run twice (at-least-once) while its
first fan-out is pending does not fan out twice.
"""

from __future__ import annotations

import uuid

import orjson

from lambdalite.clock import now_ms
from lambdalite.destinations.record import dead_letter_message, invocation_record
from lambdalite.destinations.sns_message import Published
from lambdalite.destinations.sns_publish import publish
from lambdalite.destinations.targets import DeliveryError
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node

MAX_MESSAGE_BYTES = 262_144
_NAMESPACE = uuid.UUID("6f1c1a5e-35b1-4c52-9a7d-3a1f0c1d5e42")


def _message_id(outcome: Outcome, side: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{outcome.request_id}/{side}"))


async def _publish(node: Node, published: Published) -> None:
    if not await publish(node, published):
        raise DeliveryError(f"NotFound: Topic does not exist: {published.topic_arn}", permanent=True)


async def deliver(node: Node, outcome: Outcome, topic_arn: str, side: str) -> None:
    record = invocation_record(outcome)
    message = orjson.dumps(record)
    if len(message) > MAX_MESSAGE_BYTES:
        record.pop("requestPayload", None)
        record.pop("responsePayload", None)
        message = orjson.dumps(record)
    await _publish(node, Published(_message_id(outcome, side), topic_arn, message.decode(), None, {}, now_ms(),
                                   trace_id=outcome.trace_id))


async def dead_letter(node: Node, outcome: Outcome, topic_arn: str) -> None:
    body, attributes = dead_letter_message(outcome)
    sns_attributes = {name: {"Type": a["DataType"], "Value": a["StringValue"]} for name, a in attributes.items()}
    await _publish(node, Published(_message_id(outcome, "dead_letter"), topic_arn, body, None, sns_attributes,
                                   now_ms(), trace_id=outcome.trace_id))
