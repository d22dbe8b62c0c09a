"""Received messages as an event source mapping hands them to a function: AWS's SQS event records.

The SQS service owns the message's shape (receipt handles, MD5s, attributes), so the pollers below it
reach this through `Ports.sqs_records`. A record's receiptHandle works with DeleteMessage and
ChangeMessageVisibility like one from ReceiveMessage.
"""

from __future__ import annotations

from typing import Any

import orjson

from lambdalite.model.queue import Message
from lambdalite.services.sqs import receipts
from lambdalite.services.sqs.md5 import md5_hex, md5_of_attributes


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = value["BinaryValue"]
    out.update({"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType", "String")})
    return out


def record(message: Message, queue_arn: str, region: str) -> dict[str, Any]:
    meta = orjson.loads(message.attrs or b"{}")
    attributes: dict[str, str] = {}
    if "t" in meta:
        attributes["AWSTraceHeader"] = str(meta["t"])
    attributes.update({
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": str(message.sent_ms),
        "SenderId": str(meta.get("s", "")),
        "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms or message.sent_ms),
    })
    if "src" in meta:
        attributes["DeadLetterQueueSourceArn"] = str(meta["src"])
    user = meta.get("a") or {}
    return {
        "messageId": message.id,
        "receiptHandle": receipts.encode(message.id, message.receipt or ""),
        "body": message.body.decode(errors="replace"),
        "attributes": attributes,
        "messageAttributes": {name: _attribute(value) for name, value in user.items()},
        "md5OfMessageAttributes": md5_of_attributes(user) if user else None,
        "md5OfBody": md5_hex(message.body),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def records(messages: list[Message], queue_arn: str, region: str) -> list[dict[str, Any]]:
    return [record(m, queue_arn, region) for m in messages]
