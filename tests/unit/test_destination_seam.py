"""The dispatcher's seam to delivery: which jobs an ended event's outcome makes (pure).

The jobs' durability (queued with the attempt's end, not duplicated when an event ends twice) and their
delivery are store and job-loop behaviour: tests/contract/test_job_loop.py.
"""

from __future__ import annotations

from lambdalite.clock import now_ms
from lambdalite.destinations.job import Side, Target
from lambdalite.destinations.seam import delivery_jobs
from lambdalite.model.event import DELIVERY_KIND
from lambdalite.model.outcome import Condition, Outcome
from lambdalite.model.queue import NewMessage

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:dest"
TOPIC = "arn:aws:sns:us-east-1:000000000000:topic"


def outcome(condition: Condition = Condition.SUCCESS, request_id: str = "rid-1") -> Outcome:
    return Outcome(
        request_id=request_id, function="f", qualifier="$LATEST", function_arn=ARN, region="us-east-1",
        condition=condition, approximate_invoke_count=1, request_payload=b'{"a": 1}', ended_ms=now_ms(),
        response_payload=b"{}", status_code=200, executed_version="$LATEST",
        function_error=None if condition is Condition.SUCCESS else "Unhandled",
    )


def jobs(out: Outcome, *, on_success: str | None = None, on_failure: str | None = None,
         dead_letter: str | None = None) -> list[NewMessage]:
    made = delivery_jobs(out, on_success=on_success, on_failure=on_failure, dead_letter=dead_letter)
    return sorted(made, key=lambda j: j.id)


def test_success_goes_to_on_success_only() -> None:
    out = outcome()
    [job] = jobs(out, on_success=QUEUE, on_failure=TOPIC, dead_letter=QUEUE)
    assert job.id == "rid-1/on_success"
    assert job.kind == DELIVERY_KIND and job.queue == "@delivery/f" and job.delay_ms == 0
    assert Target.from_attrs(job.attrs) == Target(Side.ON_SUCCESS, QUEUE)
    assert Outcome.from_json(job.body) == out


def test_failure_goes_to_on_failure_and_dead_letter() -> None:
    out = outcome(Condition.RETRIES_EXHAUSTED)
    made = jobs(out, on_success=QUEUE, on_failure=TOPIC, dead_letter=QUEUE)
    assert [Target.from_attrs(j.attrs) for j in made] == [
        Target(Side.DEAD_LETTER, QUEUE), Target(Side.ON_FAILURE, TOPIC)]
    assert [j.id for j in made] == ["rid-1/dead_letter", "rid-1/on_failure"]
    assert all(Outcome.from_json(j.body) == out for j in made)


def test_nothing_configured_queues_nothing() -> None:
    assert jobs(outcome(Condition.EVENT_AGE_EXCEEDED), on_success=QUEUE) == []
    assert jobs(outcome(), on_failure=QUEUE, dead_letter=QUEUE) == []


def test_an_event_ending_twice_makes_the_same_job_ids() -> None:
    """The ids are what lets the store keep one pending delivery when an event ends twice."""
    out = outcome(Condition.RETRIES_EXHAUSTED)
    first = jobs(out, on_failure=QUEUE)
    again = jobs(outcome(Condition.RETRIES_EXHAUSTED), on_failure=QUEUE)
    assert len(first) == 1 and [j.id for j in first] == [j.id for j in again]
