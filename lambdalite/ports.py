"""What delivery code (destinations, EventBridge rule targets) needs from the services above it.

Delivery runs below the HTTP services in the layers, yet must send an SQS message or put an event on a
bus exactly as a client's call would (validation, MD5s, routing). The services implement this protocol
and `server.py` wires it into the Node, so nothing below services imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lambdalite.model.queue import Message


class Ports(Protocol):
    async def send_sqs(self, queue_arn: str, body: str, attributes: dict[str, dict[str, Any]] | None) -> str:
        """Put one message on a lambdalite SQS queue; its message id. Raises Fault when refused."""
        ...

    async def put_events(self, region: str, entries: list[dict[str, Any]],
                         trace_id: str | None) -> list[dict[str, Any]]:
        """PutEvents from inside lambdalite: one result entry per entry (ErrorCode when refused)."""
        ...

    async def put_s3_object(self, bucket: str, key: str, body: bytes, trace_id: str | None) -> None:
        """Write one object to a lambdalite S3 bucket as PutObject would (its notifications fire, under
        `trace_id`'s Lineage). Raises Fault (NoSuchBucket) when refused."""
        ...

    def sqs_records(self, messages: list[Message], queue_arn: str, region: str) -> list[dict[str, Any]]:
        """Received messages as AWS's SQS event records (what an event source mapping's function gets)."""
        ...
