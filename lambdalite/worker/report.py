"""`lambdalite queue`: each function's async queue (queued, in flight, delayed for retry, oldest age), and
each SNS topic's pending deliveries when there are some."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from lambdalite.clock import now_ms
from lambdalite.model.queue import QueueRow
from lambdalite.settings import Settings
from lambdalite.store import open_store, store_exists


def render(rows: list[QueueRow], out: TextIO, what: str = "FUNCTION") -> None:
    header = (what, "QUEUED", "IN_FLIGHT", "DELAYED", "OLDEST_AGE_S")
    table = [header] + [
        (r.function, str(r.queued), str(r.in_flight), str(r.delayed),
         "-" if r.oldest_age_s is None else f"{r.oldest_age_s:.1f}")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")
    if not rows and what == "FUNCTION":
        out.write("(no queued events)\n")


def print_queue(settings: Settings, out: TextIO | None = None) -> int:
    """Print every function's async queue (safe while servers and workers run on the same store)."""
    if not store_exists(settings):
        (out or sys.stdout).write(f"no lambdalite data at {settings.data_dir}\n")
        return 1
    store = open_store(settings, read_only=True)
    try:
        rows = asyncio.run(store.queue_report(now_ms()))
        topics = asyncio.run(store.sns_delivery_report(now_ms()))
    finally:
        store.close()
    render(rows, out or sys.stdout)
    if topics:
        (out or sys.stdout).write("\n")
        render(topics, out or sys.stdout, "SNS TOPIC")
    return 0
