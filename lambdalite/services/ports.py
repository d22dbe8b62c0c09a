"""The services' side of `lambdalite.ports.Ports`: how delivery code below reaches SQS and EventBridge."""

from __future__ import annotations

from typing import Any

from lambdalite.model.queue import Message
from lambdalite.node import Node
from lambdalite.services.events_put import put_events_internal
from lambdalite.services.s3 import internal as s3_internal
from lambdalite.services.sqs import event_records
from lambdalite.services.sqs.internal import deliver_message


class ServicePorts:
    def __init__(self, node: Node):
        self.node = node

    async def send_sqs(self, queue_arn: str, body: str, attributes: dict[str, dict[str, Any]] | None) -> str:
        return await deliver_message(self.node, queue_arn, body, attributes)

    async def put_events(self, region: str, entries: list[dict[str, Any]],
                         trace_id: str | None) -> list[dict[str, Any]]:
        return await put_events_internal(self.node, region, entries, trace_id)

    async def put_s3_object(self, bucket: str, key: str, body: bytes, trace_id: str | None) -> None:
        await s3_internal.put_object(self.node, bucket, key, body, "application/json", trace_id)

    def sqs_records(self, messages: list[Message], queue_arn: str, region: str) -> list[dict[str, Any]]:
        return event_records.records(messages, queue_arn, region)
