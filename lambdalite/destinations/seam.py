"""The single seam between the dispatcher and delivery: which jobs an ended event's outcome makes.

Pure. The dispatcher hands these jobs to the store with the attempt's end (`Store.finish_attempt`),
so an outcome is either still pending as an event or durably queued for delivery: never lost. The job
loop (worker/jobs.py) takes them from there.
"""

from __future__ import annotations

from lambdalite.destinations.job import job_id, queue_name, targets_of
from lambdalite.model.event import DELIVERY_KIND
from lambdalite.model.outcome import Outcome
from lambdalite.model.queue import NewMessage


def delivery_jobs(
    outcome: Outcome, *, on_success: str | None, on_failure: str | None, dead_letter: str | None
) -> list[NewMessage]:
    """One delivery job per target of this outcome. Ids are per event and side, so an event that ends
    twice (at-least-once) while its first delivery is pending does not queue the same delivery twice."""
    targets = targets_of(outcome, on_success=on_success, on_failure=on_failure, dead_letter=dead_letter)
    if not targets:
        return []
    body = outcome.to_json()
    queue = queue_name(outcome)
    return [
        NewMessage(kind=DELIVERY_KIND, queue=queue, id=job_id(outcome, t.side), body=body, attrs=t.to_attrs())
        for t in targets
    ]
