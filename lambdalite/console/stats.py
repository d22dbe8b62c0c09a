"""What the console's tables and the per-function gauges show: each function's queue against its limits,
each SQS queue's counts (dead-letter queues marked)."""

from __future__ import annotations

from typing import Any

from lambdalite import arn, metrics
from lambdalite.clock import now_ms
from lambdalite.model.function import FunctionRow
from lambdalite.node import Node
from lambdalite.policy import DEFAULT_MAX_EVENT_AGE_S
from lambdalite.services.sqs.queue_attributes import redrive_of

_LIST_PAGE = 500


async def all_functions(node: Node) -> list[FunctionRow]:
    out: list[FunctionRow] = []
    after = ""
    while True:
        page, more = await node.store.list_functions(after, _LIST_PAGE)
        out.extend(page)
        if not more or not page:
            return out
        after = page[-1].name


async def functions(node: Node) -> list[dict[str, Any]]:
    """Per function: queued, delayed, in flight, reserved concurrency, oldest event age and its maximum.
    Also sets the per-function gauges (metrics.QUEUE_DEPTH, OLDEST_EVENT_AGE, IN_FLIGHT)."""
    report = {r.function: r for r in await node.store.queue_report(now_ms())}
    rows: list[dict[str, Any]] = []
    gauges: list[tuple[str, int, float, int]] = []
    for f in await all_functions(node):
        config = await node.store.get_event_config(f.name, arn.LATEST)
        max_age_s = config.max_event_age_s if config and config.max_event_age_s is not None else DEFAULT_MAX_EVENT_AGE_S
        q = report.get(f.name)
        rows.append({"name": f.name, "queued": q.queued if q else 0, "delayed": q.delayed if q else 0,
                     "in_flight": q.in_flight if q else 0, "reserved": f.reserved_concurrency,
                     "oldest_age_s": q.oldest_age_s if q else None, "max_age_s": max_age_s})
        if q is not None:
            gauges.append((f.name, q.queued + q.delayed + q.in_flight, q.oldest_age_s or 0.0, q.in_flight))
        else:
            gauges.append((f.name, 0, 0.0, 0))
    metrics.set_queue_gauges(gauges)
    return rows


async def queues(node: Node) -> list[dict[str, Any]]:
    region = node.settings.default_region
    records = await node.store.sqs_queues(region)
    dlqs = {target for r in records if (policy := redrive_of(r.attrs)) for target in (policy[0],)}
    for f in await all_functions(node):
        target = (f.config.get("DeadLetterConfig") or {}).get("TargetArn")
        if target:
            dlqs.add(target)
    rows = []
    for r in records:
        counts = await node.store.sqs_counts(r.arn, int(r.attrs.get("MessageRetentionPeriod", "345600")))
        rows.append({"name": r.name, "arn": r.arn, "dlq": r.arn in dlqs, "visible": counts.visible,
                     "in_flight": counts.in_flight, "delayed": counts.delayed})
    return rows
