"""`lambdalite queue`: each function's async queue (queued, in flight, delayed for retry, oldest age)."""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass
from typing import TextIO

from lambdalite.model.event import EVENT_KIND, queue_name
from lambdalite.settings import Settings
from lambdalite.store.sqlite import queues

_PREFIX = queue_name("")


@dataclass(frozen=True, slots=True)
class QueueRow:
    function: str
    queued: int  # due now, waiting for a dispatcher
    in_flight: int  # leased: running (or held by a dispatcher that has not renewed yet)
    delayed: int  # waiting for a retry or backoff
    oldest_age_s: float | None


def queue_rows(conn: sqlite3.Connection, at_ms: int) -> list[QueueRow]:
    rows = []
    for name in sorted(queues.queues_of_kind(conn, EVENT_KIND)):
        counts = queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix(_PREFIX), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


def render(rows: list[QueueRow], out: TextIO) -> None:
    header = ("FUNCTION", "QUEUED", "IN_FLIGHT", "DELAYED", "OLDEST_AGE_S")
    table = [header] + [
        (r.function, str(r.queued), str(r.in_flight), str(r.delayed),
         "-" if r.oldest_age_s is None else f"{r.oldest_age_s:.1f}")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")
    if not rows:
        out.write("(no queued events)\n")


def print_queue(settings: Settings, out: TextIO | None = None) -> int:
    """Read the data folder's queues (read-only: safe while servers and workers run)."""
    if not settings.db_path.exists():
        (out or sys.stdout).write(f"no lambdalite data at {settings.data_dir}\n")
        return 1
    conn = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = queue_rows(conn, queues.now_ms())
    finally:
        conn.close()
    render(rows, out or sys.stdout)
    return 0
