"""ReceiveMessage (long polling, redrive, retention), DeleteMessage and ChangeMessageVisibility."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from lambdalite.aio import wait_event
from lambdalite.clock import now_ms
from lambdalite.model.queue import Message
from lambdalite.model.sqs import QueueRecord, VisibilityChange
from lambdalite.services.sqs import errors, receipts
from lambdalite.services.sqs import message_attributes as ma
from lambdalite.services.sqs import queue_attributes as qa
from lambdalite.services.sqs.common import Ctx, Params, in_range, queue_of, string, string_list
from lambdalite.services.sqs.md5 import md5_hex, md5_of_attributes
from lambdalite.services.sqs.send import check_batch, failed
from lambdalite.wakeups import sqs_topic

# Long polls re-check at least this often, for messages sent by other processes on the same data folder.
CROSS_PROCESS_POLL_S = 0.5
# ... and this often where other processes' sends wake this one (PostgreSQL's NOTIFY): a safety net only.
NOTIFIED_POLL_S = 1.0
_SYSTEM_NAMES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp")
Result = dict[str, Any]


def _render(message: Message, system_names: set[str], attribute_names: list[str]) -> Result:
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
    record = await queue_of(ctx, params)
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


async def _poll(ctx: Ctx, record: QueueRecord, limit: int, visibility_ms: int, wait_s: int) -> list[Message]:
    """Lease at once; with wait_s, wait for an arrival (woken in-process, polled across processes)."""
    store = ctx.node.store
    topic = sqs_topic(record.arn)
    retention_s = int(record.attrs["MessageRetentionPeriod"])
    redrive = qa.redrive_of(record.attrs)
    deadline = time.monotonic() + wait_s
    first = True
    while True:
        arrival = ctx.node.wakeups.arrival(topic)
        next_due = await store.sqs_next_due_ms(record.arn)
        if first or (next_due is not None and next_due <= now_ms()):
            first = False
            messages = await store.sqs_receive(record.arn, retention_s=retention_s, redrive=redrive, limit=limit,
                                               visibility_ms=visibility_ms)
            if messages:
                return messages
            continue
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            return []
        timeout_s = min(left_s, NOTIFIED_POLL_S if store.wakeups_cross_process else CROSS_PROCESS_POLL_S)
        if next_due is not None:
            timeout_s = min(timeout_s, max(0.0, (next_due - now_ms()) / 1000))
        await wait_event(arrival, timeout_s)


def _handle(params: Params) -> tuple[str, tuple[str, str]]:
    handle = string(params, "ReceiptHandle", required=True)
    assert handle is not None
    decoded = receipts.decode(handle)
    if decoded is None:
        raise errors.invalid_receipt(handle)
    return handle, decoded


async def delete_message(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    _, (message_id, _receipt) = _handle(params)
    await ctx.node.store.sqs_delete(record.arn, [message_id])
    return {}


def _visibility(params: Params) -> int:
    timeout_s = in_range(params, "VisibilityTimeout", 0, 43200, "Must be between 0 and 43200, if provided.")
    if timeout_s is None:
        raise errors.missing("VisibilityTimeout")
    return timeout_s


def _change_error(outcome: str, handle: str) -> errors.SqsError | None:
    if outcome == "missing":
        return errors.invalid_value(
            "ReceiptHandle", handle, "Message does not exist or is not available for visibility timeout change."
        )
    if outcome == "not_in_flight":
        return errors.SqsError("MessageNotInflight", "Message is not in flight.")
    return None


async def change_message_visibility(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    handle, (message_id, receipt) = _handle(params)
    timeout_s = _visibility(params)
    (outcome,) = await ctx.node.store.sqs_change_visibility(record.arn, [VisibilityChange(message_id, receipt, timeout_s)])
    error = _change_error(outcome, handle)
    if error is not None:
        raise error
    if timeout_s == 0:
        ctx.node.wakeups.notify(sqs_topic(record.arn))
    return {}


def _checked(entries: list[Params], check: Callable[[Params], Any]) -> tuple[list[tuple[str, Any]], list[Result]]:
    """Each batch entry's checked value, or its failure (an SqsError fails that entry alone)."""
    ok: list[tuple[str, Any]] = []
    failures: list[Result] = []
    for entry in entries:
        try:
            ok.append((entry["Id"], check(entry)))
        except errors.SqsError as err:
            failures.append(failed(entry["Id"], err))
    return ok, failures


async def delete_message_batch(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    entries = check_batch(params.get("Entries"), "DeleteMessageBatchRequestEntry")
    ok, failures = _checked(entries, lambda entry: _handle(entry)[1][0])
    if ok:
        await ctx.node.store.sqs_delete(record.arn, [message_id for _, message_id in ok])
    return {"Successful": [{"Id": i} for i, _ in ok], "Failed": failures}


async def change_message_visibility_batch(ctx: Ctx, params: Params) -> Result:
    record = await queue_of(ctx, params)
    entries = check_batch(params.get("Entries"), "ChangeMessageVisibilityBatchRequestEntry")

    def check(entry: Params) -> tuple[str, VisibilityChange]:
        handle, (message_id, receipt) = _handle(entry)
        return handle, VisibilityChange(message_id, receipt, _visibility(entry))

    checked, failures = _checked(entries, check)
    outcomes = await ctx.node.store.sqs_change_visibility(record.arn, [change for _, (_, change) in checked])
    succeeded: list[str] = []
    for (entry_id, (handle, _)), outcome in zip(checked, outcomes, strict=True):
        error = _change_error(outcome, handle)
        if error is None:
            succeeded.append(entry_id)
        else:
            failures.append(failed(entry_id, error))
    if succeeded:
        ctx.node.wakeups.notify(sqs_topic(record.arn))
    order = {entry["Id"]: i for i, entry in enumerate(entries)}
    failures.sort(key=lambda f: order[f["Id"]])
    return {"Successful": [{"Id": i} for i in succeeded], "Failed": failures}
