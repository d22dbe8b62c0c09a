"""The single seam between the dispatcher and delivery (placeholder until destinations land).

The dispatcher calls `enqueue_deliveries` inside the same transaction that removes the ended event from
its queue, so an outcome is either still pending as an event or durably queued for delivery: never lost.
"""

from __future__ import annotations

import sqlite3

from lambdalite.model.outcome import Outcome


def enqueue_deliveries(
    conn: sqlite3.Connection,
    outcome: Outcome,
    *,
    on_success: str | None,
    on_failure: str | None,
    dead_letter: str | None,
) -> int:
    """Queue one delivery job per target of this outcome; returns how many were queued."""
    return 0
