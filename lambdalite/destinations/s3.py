"""S3 as an OnFailure destination: the record becomes an object at AWS's key
`aws/lambda/async/<function>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>` (UTC, the moment the event ended).

The uuid is derived from the event's request id, so a redelivery after a crash rewrites the same object
instead of adding a second one. The write fires the bucket's notifications like any PutObject.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lambdalite import arn
from lambdalite.destinations.record import record_bytes
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node

_KEYS = uuid.UUID("6b3c2c1e-7f0a-4a57-9a51-7d6c0f1e5a01")  # namespace of the derived object ids


def object_key(outcome: Outcome) -> str:
    moment = datetime.fromtimestamp(outcome.ended_ms / 1000, tz=UTC)
    name = uuid.uuid5(_KEYS, outcome.request_id)
    return f"aws/lambda/async/{outcome.function}/{moment:%Y/%m/%d}/{moment:%Y-%m-%dT%H.%M.%S}-{name}"


def bucket_of(bucket_arn: str) -> str:
    parsed = arn.parse(bucket_arn)
    if parsed is None or not parsed.resource:
        raise DeliveryError(f"not a bucket ARN: {bucket_arn}", permanent=True)
    return parsed.resource.split("/", 1)[0]


async def deliver(node: Node, outcome: Outcome, bucket_arn: str) -> None:
    try:
        await ports(node).put_s3_object(bucket_of(bucket_arn), object_key(outcome), record_bytes(outcome),
                                        outcome.trace_id)
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None
