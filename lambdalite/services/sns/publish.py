"""Publish and PublishBatch: validate as AWS does, then commit every subscription's delivery at once."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.destinations.sns_message import Published
from lambdalite.destinations.sns_publish import publish as commit
from lambdalite.model.sns import TopicRecord
from lambdalite.services.sns import errors
from lambdalite.services.sns.common import Ctx, require_topic
from lambdalite.services.sns.query import el, members

MAX_MESSAGE_BYTES = 262_144
MAX_BATCH = 10
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_TYPES = ("String", "Number", "Binary")


def _attributes(raw: Any) -> dict[str, dict[str, str]]:
    """Message attributes in SNS form ({name: {Type, Value}}), checked as AWS checks them."""
    out: dict[str, dict[str, str]] = {}
    for name, value in (raw or {}).items():
        value = value if isinstance(value, dict) else {}
        kind = str(value.get("DataType") or "")
        if kind.split(".", 1)[0] not in _TYPES:
            raise errors.value_invalid(f"The message attribute '{name}' has an invalid message attribute type, "
                                       "the set of supported type prefixes is Binary, Number, and String.")
        field = "BinaryValue" if kind.startswith("Binary") else "StringValue"
        text = value.get(field)
        if not isinstance(text, str) or text == "":
            raise errors.value_invalid(f"The message attribute '{name}' must contain non-empty message attribute "
                                       f"value for message attribute type '{kind.split('.', 1)[0]}'.")
        if kind.startswith("Number"):
            _check_number(name, text)
        out[str(name)] = {"Type": kind, "Value": text}
    return out


def _check_number(name: str, text: str) -> None:
    try:
        float(text)
    except ValueError:
        raise errors.value_invalid(f"The message attribute '{name}' with type 'Number' must have a valid numeric "
                                   "value.") from None


def _structure(message: str, structure: Any) -> dict[str, str] | None:
    if structure is None or structure == "":
        return None
    if structure != "json":
        raise errors.invalid("MessageStructure")
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise errors.invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(parsed, dict) or "default" not in parsed:
        raise errors.invalid("Message Structure - No default entry in JSON message body")
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in parsed.items()}


def _subject(value: Any) -> str | None:
    if value is None:
        return None
    subject = str(value)
    if not 1 <= len(subject) <= 99 or any(ord(c) < 32 for c in subject) or not subject.strip():
        raise errors.invalid("Subject")
    return subject


def prepare(topic: TopicRecord, params: dict[str, Any], trace_id: str | None) -> Published:
    """One message, validated (Message, Subject, MessageStructure, MessageAttributes, size)."""
    message = params.get("Message")
    if not isinstance(message, str) or message == "":
        raise errors.invalid("Empty message")
    attributes = _attributes(params.get("MessageAttributes"))
    size = len(message.encode()) + sum(len(k.encode()) + len(a["Type"]) + len(a["Value"].encode())
                                       for k, a in attributes.items())
    if size > int(topic.attributes.get("MaximumMessageSize") or MAX_MESSAGE_BYTES):
        raise errors.invalid("Message too long")
    return Published(
        message_id=str(uuid.uuid4()), topic_arn=topic.arn, message=message, subject=_subject(params.get("Subject")),
        attributes=attributes, timestamp_ms=now_ms(), structure=_structure(message, params.get("MessageStructure")),
        trace_id=trace_id, topic_delivery_policy=topic.attributes.get("DeliveryPolicy"),
        signature_version=topic.attributes.get("SignatureVersion") or "1",
    )


async def publish(ctx: Ctx, params: dict[str, Any], trace_id: str | None = None) -> str:
    if params.get("TopicArn") is None and params.get("TargetArn") is None:
        if params.get("PhoneNumber") is not None:
            raise errors.invalid("PhoneNumber Reason: SMS is not supported by lambdalite")
        raise errors.invalid("TopicArn or TargetArn Reason: no value for required parameter")
    topic = await require_topic(ctx, params.get("TopicArn", params.get("TargetArn")),
                                "TopicArn" if "TopicArn" in params else "TargetArn")
    published = prepare(topic, params, trace_id)
    if not await commit(ctx.node, published):
        raise errors.topic_missing()
    return el("MessageId", published.message_id)


def _check_batch(entries: list[Any]) -> None:
    if not entries:
        raise errors.batch("EmptyBatchRequest", "The batch request doesn't contain any entries.")
    if len(entries) > MAX_BATCH:
        raise errors.batch("TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")
    ids = [str(e.get("Id", "")) if isinstance(e, dict) else "" for e in entries]
    for entry_id in ids:
        if len(entry_id) > 80:
            raise errors.batch("InvalidBatchEntryId", f"The Id of a batch entry in the batch request is too long: "
                                                      f"{entry_id}")
        if not _BATCH_ID.fullmatch(entry_id):
            raise errors.batch("InvalidBatchEntryId", "The Id of a batch entry in the batch request contains an "
                                                      f"impermissible character: {entry_id}")
    if len(set(ids)) != len(ids):
        raise errors.batch("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")


async def publish_batch(ctx: Ctx, params: dict[str, Any], trace_id: str | None = None) -> str:
    topic = await require_topic(ctx, params.get("TopicArn"))
    entries = params.get("PublishBatchRequestEntries")
    entries = entries if isinstance(entries, list) else []
    _check_batch(entries)
    prepared = [(str(e["Id"]), prepare(topic, e, trace_id)) for e in entries]  # an invalid entry fails the call
    if sum(len(p.message.encode()) for _, p in prepared) > MAX_MESSAGE_BYTES:
        raise errors.batch("BatchRequestTooLong", "The length of all the messages put together is more than the limit.")
    # Together: the group commit makes them one durable write.
    committed = await asyncio.gather(*(commit(ctx.node, published) for _, published in prepared))
    if not all(committed):
        raise errors.topic_missing()
    successful = members("Successful", (el("Id", i) + el("MessageId", p.message_id) for i, p in prepared))
    return successful + members("Failed", ())
