"""ReceiveMessage (long polling, redrive, retention), DeleteMessage and ChangeMessageVisibility."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from lambdalite.services.sqs import errors, receipts, wakeups
from lambdalite.services.sqs import message_attributes as ma
from lambdalite.services.sqs import queue_attributes as qa
from lambdalite.services.sqs.common import Ctx, Params, in_range, queue_of, string, string_list
from lambdalite.services.sqs.md5 import md5_hex, md5_of_attributes
from lambdalite.services.sqs.send import check_batch, failed
from lambdalite.store.sqlite import queues
from lambdalite.store.sqlite import sqs as sqs_db
from lambdalite.store.sqlite.sqs import QueueRecord

# Long polls re-check at least this often, for messages sent by other processes on the same data folder.
CROSS_PROCESS_POLL_S = 0.5
_SYSTEM_NAMES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp")
Result = dict[str, Any]


def _lease_batch(conn: sqlite3.Connection, record: QueueRecord, limit: int, visibility_ms: int) -> list[queues.Message]:
    """Expire old messages, lease up to `limit`, and move the over-received ones to the dead-letter queue."""
    now = queues.now_ms()
    queues.expire(conn, record.arn, now - int(record.attrs["MessageRetentionPeriod"]) * 1000)
    redrive = qa.redrive_of(record.attrs)
    dlq = sqs_db.get_by_arn(conn, redrive[0]) if redrive else None
    out: list[queues.Message] = []
    while len(out) < limit:
        leased = queues.lease(conn, lease_ms=visibility_ms, limit=limit - len(out), queue=record.arn, at_ms=now)
        moved = 0
        for message in leased:
            if redrive and dlq is not None and message.receive_count > redrive[1]:
                meta = orjson.loads(message.attrs or b"{}")
                meta["src"] = record.arn
                queues.move(conn, message.id, dlq.arn, visible_ms=now, attrs=orjson.dumps(meta))
                moved += 1
            else:
                out.append(message)
        if not moved or visibility_ms == 0:
            break
    return out


def _render(message: queues.Message, system_names: set[str], attribute_names: list[str]) -> Result:
    meta = orjson.loads(message.attrs or b"{}")
    body = message.body.decode() if isinstance(message.body, bytes) else str(message.body)
    assert message.receipt is not None
    out: Result = {
        "MessageId": message.id,
        "ReceiptHandle": receipts.encode(message.id, message.receipt),
        "MD5OfBody": md5_hex(message.body if isinstance(message.body, bytes) else body.encode()),
        "Body": body,
    }
    if system_names:
        everything = {
            "SenderId": str(meta.get("s", "")),
            "SentTimestamp": str(message.sent_ms),
            "ApproximateReceiveCount": str(message.receive_count),
            "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms or message.sent_ms),
        }
        if "t" in meta:
            everything["AWSTraceHeader"] = str(meta["t"])
        if "src" in meta:
            everything["DeadLetterQueueSourceArn"] = str(meta["src"])
        wanted = everything if "All" in system_names else {k: v for k, v in everything.items() if k in system_names}
        if wanted:
            out["Attributes"] = wanted
    selected = ma.select(meta.get("a") or {}, attribute_names)
    if selected:
        out["MD5OfMessageAttributes"] = md5_of_attributes(selected)
        out["MessageAttributes"] = selected
    return out


async def receive_message(ctx: Ctx, params: Params) -> Result:
    record = queue_of(ctx, params)
    limit = in_range(params, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided.") or 1
    visibility_s = in_range(params, "VisibilityTimeout", 0, 43200)
    wait_s = in_range(params, "WaitTimeSeconds", 0, 20)
    if visibility_s is None:
        visibility_s = int(record.attrs["VisibilityTimeout"])
    if wait_s is None:
        wait_s = int(record.attrs["ReceiveMessageWaitTimeSeconds"])
    system_names = set(string_list(params, "AttributeNames")) | set(string_list(params, "MessageSystemAttributeNames"))
    attribute_names = string_list(params, "MessageAttributeNames")
    messages = await _poll(ctx, record, limit, visibility_s * 1000, wait_s)
    if not messages:
        return {}
    return {"Messages": [_render(m, system_names, attribute_names) for m in messages]}


async def _poll(ctx: Ctx, record: QueueRecord, limit: int, visibility_ms: int, wait_s: int) -> list[queues.Message]:
    """Lease at once; with wait_s, wait for an arrival (woken in-process, polled across processes)."""
    db = ctx.node.store.db
    deadline = time.monotonic() + wait_s
    first = True
    while True:
        arrival = wakeups.current(record.arn)
        next_due = db.read(lambda c: queues.queue_next_due_ms(c, record.arn))
        if first or (next_due is not None and next_due <= queues.now_ms()):
            first = False
            messages = await db.write(lambda c: _lease_batch(c, record, limit, visibility_ms))
            if messages:
                return messages
            continue
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            return []
        timeout_s = min(left_s, CROSS_PROCESS_POLL_S)
        if next_due is not None:
            timeout_s = min(timeout_s, max(0.0, (next_due - queues.now_ms()) / 1000))
        await wakeups.wait(arrival, timeout_s)


def _handle(params: Params) -> tuple[str, tuple[str, str]]:
    handle = string(params, "ReceiptHandle", required=True)
    assert handle is not None
    decoded = receipts.decode(handle)
    if decoded is None:
        raise errors.invalid_receipt(handle)
    return handle, decoded


def _delete_tx(conn: sqlite3.Connection, queue_arn: str, message_id: str) -> None:
    message = queues.get(conn, message_id)
    if message is not None and message.queue == queue_arn:
        queues.delete(conn, message_id)


async def delete_message(ctx: Ctx, params: Params) -> Result:
    record = queue_of(ctx, params)
    _, (message_id, _receipt) = _handle(params)
    await ctx.node.store.db.write(lambda conn: _delete_tx(conn, record.arn, message_id))
    return {}


def _change_tx(conn: sqlite3.Connection, queue_arn: str, handle: str, decoded: tuple[str, str], timeout_s: int) -> None:
    message_id, receipt = decoded
    message = queues.get(conn, message_id)
    now = queues.now_ms()
    if message is None or message.queue != queue_arn:
        raise errors.invalid_value(
            "ReceiptHandle", handle, "Message does not exist or is not available for visibility timeout change."
        )
    if message.receipt != receipt or message.visible_ms <= now:
        raise errors.SqsError("MessageNotInflight", "Message is not in flight.")
    queues.reschedule(conn, message_id, receipt, visible_ms=now + timeout_s * 1000, release=False)


def _visibility(params: Params) -> int:
    timeout_s = in_range(params, "VisibilityTimeout", 0, 43200, "Must be between 0 and 43200, if provided.")
    if timeout_s is None:
        raise errors.missing("VisibilityTimeout")
    return timeout_s


async def change_message_visibility(ctx: Ctx, params: Params) -> Result:
    record = queue_of(ctx, params)
    handle, decoded = _handle(params)
    timeout_s = _visibility(params)
    await ctx.node.store.db.write(lambda conn: _change_tx(conn, record.arn, handle, decoded, timeout_s))
    if timeout_s == 0:
        wakeups.notify(record.arn)
    return {}


async def _per_entry(ctx: Ctx, entries: list[Params], apply: Any) -> tuple[list[str], list[Result]]:
    """Run `apply(conn, entry)` for each batch entry in one write; an entry's SqsError fails it alone."""
    ok: list[str] = []
    failures: list[Result] = []

    def write(conn: sqlite3.Connection) -> None:
        for entry in entries:
            try:
                apply(conn, entry)
                ok.append(entry["Id"])
            except errors.SqsError as err:
                failures.append(failed(entry["Id"], err))

    await ctx.node.store.db.write(write)
    return ok, failures


async def delete_message_batch(ctx: Ctx, params: Params) -> Result:
    record = queue_of(ctx, params)
    entries = check_batch(params.get("Entries"), "DeleteMessageBatchRequestEntry")

    def delete(conn: sqlite3.Connection, entry: Params) -> None:
        _, (message_id, _receipt) = _handle(entry)
        _delete_tx(conn, record.arn, message_id)

    ok, failures = await _per_entry(ctx, entries, delete)
    return {"Successful": [{"Id": i} for i in ok], "Failed": failures}


async def change_message_visibility_batch(ctx: Ctx, params: Params) -> Result:
    record = queue_of(ctx, params)
    entries = check_batch(params.get("Entries"), "ChangeMessageVisibilityBatchRequestEntry")

    def change(conn: sqlite3.Connection, entry: Params) -> None:
        handle, decoded = _handle(entry)
        _change_tx(conn, record.arn, handle, decoded, _visibility(entry))

    ok, failures = await _per_entry(ctx, entries, change)
    if ok:
        wakeups.notify(record.arn)
    return {"Successful": [{"Id": i} for i in ok], "Failed": failures}
