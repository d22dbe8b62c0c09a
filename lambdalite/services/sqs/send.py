"""SendMessage / SendMessageBatch, and the internal send used by destinations and dead-letter queues."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from lambdalite.model.queue import NewMessage
from lambdalite.model.sqs import QueueRecord
from lambdalite.node import Node
from lambdalite.services.sqs import errors
from lambdalite.services.sqs import message_attributes as ma
from lambdalite.services.sqs.common import KIND, Ctx, Params, integer, queue_of
from lambdalite.services.sqs.md5 import md5_hex, md5_of_attributes
from lambdalite.wakeups import sqs_topic

MAX_BATCH = 10
_INVALID_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
Result = dict[str, Any]


@dataclass(slots=True)
class Prepared:
    """A validated message, ready to insert: everything computed once."""

    id: str
    body: bytes
    attrs_blob: bytes
    delay_ms: int
    md5_body: str
    md5_attrs: str | None
    md5_system: str | None

    def result(self) -> Result:
        out: Result = {"MessageId": self.id, "MD5OfMessageBody": self.md5_body}
        if self.md5_attrs:
            out["MD5OfMessageAttributes"] = self.md5_attrs
        if self.md5_system:
            out["MD5OfMessageSystemAttributes"] = self.md5_system
        return out


def prepare(record: QueueRecord, params: Params, sender_id: str) -> Prepared:
    """Validate one message (body, delay, attributes, size) against its queue."""
    body = params.get("MessageBody")
    if body is None or body == "":
        raise errors.missing("MessageBody")
    if not isinstance(body, str):
        raise errors.invalid_parameter("The request includes an invalid MessageBody value.")
    if _INVALID_CHARS.search(body):
        raise errors.SqsError(
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
            "#xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    delay_s = integer(params, "DelaySeconds")
    if delay_s is None:
        delay_s = int(record.attrs["DelaySeconds"])
    elif not 0 <= delay_s <= 900:
        raise errors.invalid_value("DelaySeconds", delay_s, "DelaySeconds must be >= 0 and <= 900.")
    attributes = ma.check(params.get("MessageAttributes"))
    system = _check_system(params.get("MessageSystemAttributes"))
    body_bytes = body.encode()
    limit = int(record.attrs["MaximumMessageSize"])
    if len(body_bytes) + ma.size_bytes(attributes) > limit:
        raise errors.invalid_parameter(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )
    meta: dict[str, Any] = {"s": sender_id}
    if attributes:
        meta["a"] = attributes
    if system:
        meta["t"] = system["AWSTraceHeader"]["StringValue"]
    return Prepared(
        id=str(uuid.uuid4()),
        body=body_bytes,
        attrs_blob=orjson.dumps(meta),
        delay_ms=delay_s * 1000,
        md5_body=md5_hex(body_bytes),
        md5_attrs=md5_of_attributes(attributes) if attributes else None,
        md5_system=md5_of_attributes(system) if system else None,
    )


def _check_system(given: Any) -> dict[str, dict[str, Any]]:
    if not given:
        return {}
    if not isinstance(given, dict) or set(given) - {"AWSTraceHeader"}:
        raise errors.invalid_parameter("Message system attribute name is invalid: only AWSTraceHeader is supported.")
    value = given["AWSTraceHeader"]
    if not isinstance(value, dict) or value.get("DataType") != "String" or not value.get("StringValue"):
        raise errors.invalid_parameter("Message system attribute AWSTraceHeader must be a non-empty String.")
    return {"AWSTraceHeader": {"DataType": "String", "StringValue": str(value["StringValue"])}}


async def store_messages(node: Node, queue_arn: str, prepared: list[Prepared]) -> None:
    """Commit validated messages, then wake this process's long polls on the queue."""
    messages = [NewMessage(kind=KIND, queue=queue_arn, id=p.id, body=p.body, attrs=p.attrs_blob, delay_ms=p.delay_ms)
                for p in prepared]
    if not await node.store.sqs_send(queue_arn, messages):
        raise errors.no_queue()
    node.wakeups.notify(sqs_topic(queue_arn))


async def send_message(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    prepared = prepare(record, params, ctx.sender_id)
    await store_messages(ctx.node, record.arn, [prepared])
    return prepared.result()


def check_batch(entries: Any, entry_shape: str) -> list[dict[str, Any]]:
    """Batch-level checks shared by every *Batch operation (count, ids)."""
    if not entries:
        raise errors.SqsError("EmptyBatchRequest", f"There should be at least one {entry_shape} in the request.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise errors.invalid_parameter("The request includes an invalid Entries value.")
    if len(entries) > MAX_BATCH:
        raise errors.SqsError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH}. You have sent {len(entries)}.",
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id")
        if not isinstance(entry_id, str) or not _BATCH_ID.fullmatch(entry_id):
            raise errors.SqsError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long.",
            )
        if entry_id in seen:
            raise errors.SqsError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def failed(entry_id: str, error: errors.SqsError) -> Result:
    return {"Id": entry_id, "SenderFault": error.fault == "Sender", "Code": error.query_code, "Message": error.message}


async def send_message_batch(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    entries = check_batch(params.get("Entries"), "SendMessageBatchRequestEntry")
    limit = int(record.attrs["MaximumMessageSize"])
    total = sum(len(str(e.get("MessageBody") or "").encode()) + _attr_size(e) for e in entries)
    if total > limit:
        raise errors.SqsError(
            "BatchRequestTooLong", f"Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes."
        )
    ok: list[tuple[str, Prepared]] = []
    failures: list[Result] = []
    for entry in entries:
        try:
            ok.append((entry["Id"], prepare(record, entry, ctx.sender_id)))
        except errors.SqsError as err:
            failures.append(failed(entry["Id"], err))
    if ok:
        await store_messages(ctx.node, record.arn, [p for _, p in ok])
    return {"Successful": [{"Id": entry_id, **p.result()} for entry_id, p in ok], "Failed": failures}


def _attr_size(entry: dict[str, Any]) -> int:
    try:
        return ma.size_bytes(entry.get("MessageAttributes") or {})
    except (ValueError, TypeError, AttributeError):
        return 0
