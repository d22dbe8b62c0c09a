"""The single seam between the dispatcher and delivery.

The dispatcher calls `enqueue_deliveries` inside the same transaction that removes the ended event from
its queue, so an outcome is either still pending as an event or durably queued for delivery: never lost.
The delivery loop (delivery.py) takes the jobs from there.
"""

from __future__ import annotations

import contextlib
import sqlite3

from lambdalite.destinations.job import job_id, queue_name, targets_of
from lambdalite.model.event import DELIVERY_KIND
from lambdalite.model.outcome import Outcome
from lambdalite.store.sqlite import queues


def enqueue_deliveries(
    conn: sqlite3.Connection,
    outcome: Outcome,
    *,
    on_success: str | None,
    on_failure: str | None,
    dead_letter: str | None,
) -> int:
    """Queue one delivery job per target of this outcome; returns how many were queued.

    A job already pending for the same event and side (the event ended twice) is kept, not duplicated.
    """
    targets = targets_of(outcome, on_success=on_success, on_failure=on_failure, dead_letter=dead_letter)
    if not targets:
        return 0
    body = outcome.to_json()
    queue = queue_name(outcome)
    queued = 0
    for target in targets:
        # The same delivery already pending (the event ended twice) counts as queued.
        with contextlib.suppress(sqlite3.IntegrityError):
            queues.send(
                conn, kind=DELIVERY_KIND, queue=queue, id=job_id(outcome, target.side), body=body,
                attrs=target.to_attrs(),
            )
        queued += 1
    return queued
