"""Run failed events again: one event, a function's failed events (optionally in a time range), or the
messages of an SQS dead-letter queue, each back into its function's async queue through the accept path
(`accept.queue_event`), so it runs with the function's retries and destinations as any event does.

A redriven event keeps its request id and starts its next run (`QueuedEvent.run`): its history shows the
earlier runs' attempts above the new ones (docs/decisions.md, "Redrive").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import orjson

from lambdalite import arn
from lambdalite.accept import EMPTY_PAYLOAD, queue_event
from lambdalite.clock import now_ms
from lambdalite.faults import Fault
from lambdalite.model.history import EventDetail, EventQuery, Status
from lambdalite.model.queue import Message
from lambdalite.node import Node
from lambdalite.request_ids import new_request_id
from lambdalite.resolve import resolve_function

log = logging.getLogger(__name__)

_DLQ_BATCH = 10
_DLQ_VISIBILITY_MS = 60_000


class RedriveRefused(Fault):
    """The event cannot run again (not found, not failed, its payload is gone, its function is gone)."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(status, "RedriveRefused", message)


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # request id (or message id) -> why

    def to_json(self) -> dict[str, object]:
        return {"redriven": self.redriven, "skipped": self.skipped, "count": len(self.redriven)}


def next_run(detail: EventDetail | None) -> int:
    runs = [a.run for a in detail.attempts] if detail is not None else []
    return max(runs, default=0) + 1


async def _requeue(node: Node, function: str, qualifier: str, region: str, payload: bytes, request_id: str,
                   run: int) -> str:
    try:
        resolved = await resolve_function(node, function, qualifier, region)
    except Fault as err:
        raise RedriveRefused(f"cannot redrive {request_id}: {err.message}") from None
    invoked = resolved.unqualified_arn if resolved.qualifier in ("", arn.LATEST) else resolved.qualified_arn
    return await queue_event(node, resolved, payload or EMPTY_PAYLOAD, region, invoked, None,
                             request_id=request_id, run=run)


async def redrive_event(node: Node, request_id: str) -> str:
    """Queue one failed event again; its request id once the accept is durable."""
    detail = await node.store.get_event(request_id, now_ms())
    if detail is None:
        raise RedriveRefused(f"no event {request_id} in the history", 404)
    if detail.status is not Status.FAILED:
        raise RedriveRefused(f"event {request_id} is {detail.status.value}: only failed events are redriven")
    if detail.outcome is None or detail.payload is None:
        raise RedriveRefused(f"event {request_id} has no stored payload (its outcome was pruned)")
    outcome = detail.outcome
    return await _requeue(node, outcome.function, outcome.qualifier, outcome.region, detail.payload, request_id,
                          next_run(detail))


async def redrive_failed(node: Node, function: str | None, since_ms: int | None = None,
                         until_ms: int | None = None) -> RedriveReport:
    """Every failed event (of one function, in a time range when given), newest first."""
    report = RedriveReport()
    query = EventQuery(function=function, status=Status.FAILED, since_ms=since_ms, until_ms=until_ms, limit=200)
    while True:
        page = await node.store.list_events(query, now_ms())
        for row in page:
            try:
                report.redriven.append(await redrive_event(node, row.request_id))
            except RedriveRefused as err:
                report.skipped[row.request_id] = err.message
        if len(page) < query.limit:
            return report
        query = replace(query, before=page[-1].cursor)


def _request_id_of(message: Message) -> str | None:
    meta = orjson.loads(message.attrs or b"{}")
    value = (meta.get("a") or {}).get("RequestID", {}).get("StringValue")
    return str(value) if value else None


async def redrive_dlq(node: Node, queue_arn: str, function: str, limit: int | None = None) -> RedriveReport:
    """Move a Lambda dead-letter queue's messages (the original events) back into `function`'s queue: each
    message is deleted once its event is queued. The event keeps the RequestID the message carries (a
    message without one, not sent by Lambda, becomes a new event)."""
    record = await node.store.sqs_queue_by_arn(queue_arn)
    if record is None:
        raise RedriveRefused(f"no queue {queue_arn}", 404)
    resolved = await _resolve_target(node, function, record.region)
    report = RedriveReport()
    retention_s = int(record.attrs.get("MessageRetentionPeriod", "345600"))
    while limit is None or len(report.redriven) < limit:
        batch = await node.store.sqs_receive(queue_arn, retention_s=retention_s, redrive=None, limit=_DLQ_BATCH,
                                             visibility_ms=_DLQ_VISIBILITY_MS)
        if not batch:
            return report
        done = []
        for message in batch:
            request_id = _request_id_of(message)
            detail = await node.store.get_event(request_id, now_ms()) if request_id else None
            if detail is not None and detail.status.live:
                report.skipped[message.id] = f"event {request_id} is {detail.status.value}"
                continue
            report.redriven.append(await _requeue(node, resolved[0], resolved[1], record.region, message.body,
                                                  request_id or new_request_id(), next_run(detail)))
            done.append(message.id)
        await node.store.sqs_delete(queue_arn, done)
    return report


async def _resolve_target(node: Node, function: str, region: str) -> tuple[str, str]:
    ref = arn.parse_function_name(function)
    try:
        resolved = await resolve_function(node, ref.name, ref.qualifier, ref.region or region)
    except Fault as err:
        raise RedriveRefused(err.message, err.status) from None
    return resolved.name, resolved.qualifier or arn.LATEST
