"""One batch of an SQS event source mapping: filter, invoke synchronously, then delete or leave.

Messages stay leased (invisible for the queue's visibility timeout) while the batch runs. Success
deletes them (with ReportBatchItemFailures: all but the reported ones); a function error, a throttle
that outlasts the lease, or any malformed partial response deletes nothing, so the messages come back
with ApproximateReceiveCount + 1 and the queue's redrive policy takes them to its DLQ. Destinations,
event invoke configs and the function's DLQ never apply: the invocation is synchronous.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from lambdalite import lineage, metrics
from lambdalite.faults import Fault
from lambdalite.invocation import run_in_slot
from lambdalite.model.esm import EventSourceMapping
from lambdalite.model.queue import Message
from lambdalite.model.run import InvokeRequest, InvokeResult, Status
from lambdalite.model.sqs import VisibilityChange
from lambdalite.node import Node
from lambdalite.patterns import compile_pattern
from lambdalite.policy import recursion_stops
from lambdalite.request_ids import new_request_id
from lambdalite.resolve import Resolved, resolve_function
from lambdalite.wakeups import sqs_topic

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6_291_456  # a synchronous invocation's payload limit: a batch stops growing there
THROTTLE_FIRST_S, THROTTLE_MAX_S = 0.05, 1.0
_RECORDS_OVERHEAD = len(b'{"Records":[]}')


def batch_failures(payload: bytes, message_ids: set[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures response reports as failed, or None when the response is
    malformed (the whole batch failed). `null`, `{}`, a null or empty list: nothing failed."""
    try:
        data = orjson.loads(payload) if payload.strip() else None
    except orjson.JSONDecodeError:
        return None
    if data is None:
        return set()
    if not isinstance(data, dict):
        return None
    items = data.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in message_ids:
            return None
        failed.add(ident)
    return failed


def matches(filters: tuple[str, ...], record: dict[str, Any]) -> bool:
    """FilterCriteria see the body only: a JSON body as its value, any other body as its text."""
    if not filters:
        return True
    body = record["body"]
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = body
    event = {"body": value}
    return any(compile_pattern(p, limit_complexity=False).matches(event) for p in filters)


class Batch:
    def __init__(self, node: Node, mapping: EventSourceMapping, messages: list[Message], visibility_s: int):
        self.node = node
        self.m = mapping
        self.messages = messages
        self.lease_ends = time.monotonic() + visibility_s

    async def run(self) -> None:
        store, m = self.node.store, self.m
        assert self.node.ports is not None
        current = await store.esm_get(m.uuid)
        if current is None or not current.polling:  # disabled or deleted while the batch gathered
            await store.sqs_change_visibility(m.source_arn, [VisibilityChange(x.id, x.receipt or "", 0)
                                                              for x in self.messages])
            self.node.wakeups.notify(sqs_topic(m.source_arn))
            return
        records = self.node.ports.sqs_records(self.messages, m.source_arn, m.region)
        kept = [r for r in records if matches(m.filters, r)]
        kept_ids = {r["messageId"] for r in kept}
        dropped = [r["messageId"] for r in records if r["messageId"] not in kept_ids]
        if dropped:  # messages no filter matches are deleted without an invocation
            await store.sqs_delete(m.source_arn, dropped)
        kept = await self._within_payload_limit(kept)
        if not kept:
            return
        try:
            resolved = await resolve_function(self.node, m.function_arn, None, m.region)
        except Fault as err:
            log.warning("mapping %s: %s; its messages return to the queue", m.uuid, err.message)
            return
        result = await self._invoke(resolved, kept)
        if result is None or result.status is not Status.OK:
            return
        ids = [r["messageId"] for r in kept]
        if m.reports_item_failures:
            failed = batch_failures(result.payload, set(ids))
            if failed is None:
                log.info("mapping %s: malformed batch item failures response; the whole batch failed", m.uuid)
                return
            ids = [i for i in ids if i not in failed]
        if ids:
            await store.sqs_delete(m.source_arn, ids)

    async def _within_payload_limit(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records that fit in one invocation's payload; the rest go back to the queue at once."""
        size = _RECORDS_OVERHEAD
        for i, record in enumerate(records):
            size += len(orjson.dumps(record)) + 1
            if size > MAX_PAYLOAD_BYTES and i > 0:
                back = [self._change(r) for r in records[i:]]
                await self.node.store.sqs_change_visibility(self.m.source_arn, back)
                self.node.wakeups.notify(sqs_topic(self.m.source_arn))
                return records[:i]
        return records

    def _change(self, record: dict[str, Any]) -> VisibilityChange:
        message = next(x for x in self.messages if x.id == record["messageId"])
        return VisibilityChange(message.id, message.receipt or "", 0)

    async def _invoke(self, resolved: Resolved, records: list[dict[str, Any]]) -> InvokeResult | None:
        hops = max(lineage.lineage_count(r["attributes"].get("AWSTraceHeader")) for r in records)
        if recursion_stops(hops, resolved.recursion):
            metrics.RECURSION_DROPPED.labels(resolved.name).inc()
            return None
        slot = await self._slot(resolved)
        if slot is None:
            return None
        trace = next((r["attributes"]["AWSTraceHeader"] for r in records if "AWSTraceHeader" in r["attributes"]), None)
        request = InvokeRequest(
            request_id=new_request_id(),
            payload=orjson.dumps({"Records": records}),
            invoked_arn=self.m.function_arn,
            trace_id=lineage.with_lineage(trace, hops + 1, lineage.lineage_tag(resolved.name)),
        )
        # a backlog, as the dispatcher's: a warm environment is worth a short wait
        return await run_in_slot(self.node, resolved, request, slot, prefer_warm=True)

    async def _slot(self, resolved: Resolved) -> int | None:
        """A concurrency slot of the function, waited for (throttled) while the messages' lease lasts."""
        delay_s = THROTTLE_FIRST_S
        while True:
            slot = await self.node.store.acquire_slot(resolved.name, resolved.reserved_concurrency)
            if isinstance(slot, int):
                return slot
            metrics.THROTTLES.labels(resolved.name).inc()
            if time.monotonic() + delay_s >= self.lease_ends:
                return None  # throttled: the messages come back after their visibility timeout
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, THROTTLE_MAX_S)
