"""The dispatcher's seam and the delivery loop, against a real SQLite store (no server)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdalite import metrics
from lambdalite.destinations.delivery import DeliveryLoop
from lambdalite.destinations.job import Side, Target
from lambdalite.destinations.seam import enqueue_deliveries
from lambdalite.model.event import DELIVERY_KIND
from lambdalite.model.outcome import Condition, Outcome
from lambdalite.node import Node
from lambdalite.settings import Settings
from lambdalite.store.sqlite import SqliteStore, queues

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:dest"
TOPIC = "arn:aws:sns:us-east-1:000000000000:topic"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    settings = Settings(data_dir=tmp_path / "data", delivery_attempts=2, delivery_retry_base_delay_s=0.05)
    store = SqliteStore(settings)
    yield Node(settings=settings, store=store, pool=None)  # type: ignore[arg-type]
    store.close()


def outcome(condition: Condition = Condition.SUCCESS, request_id: str = "rid-1") -> Outcome:
    return Outcome(
        request_id=request_id, function="f", qualifier="$LATEST", function_arn=ARN, region="us-east-1",
        condition=condition, approximate_invoke_count=1, request_payload=b'{"a": 1}', ended_ms=queues.now_ms(),
        response_payload=b"{}", status_code=200, executed_version="$LATEST",
        function_error=None if condition is Condition.SUCCESS else "Unhandled",
    )


def enqueue(node: Node, out: Outcome, **targets: str | None) -> int:
    args: dict[str, Any] = {"on_success": None, "on_failure": None, "dead_letter": None, **targets}
    return node.store.db.write_sync(lambda c: enqueue_deliveries(c, out, **args))


def jobs(node: Node) -> list[queues.Message]:
    def read(c: Any) -> list[queues.Message]:
        rows = c.execute("SELECT id FROM messages WHERE kind = ? ORDER BY id", (DELIVERY_KIND,)).fetchall()
        return [queues.get(c, r[0]) for r in rows]

    return node.store.db.read(read)


def test_success_goes_to_on_success_only(node: Node) -> None:
    out = outcome()
    assert enqueue(node, out, on_success=QUEUE, on_failure=TOPIC, dead_letter=QUEUE) == 1
    [job] = jobs(node)
    assert job.id == "rid-1/on_success"
    assert Target.from_attrs(job.attrs) == Target(Side.ON_SUCCESS, QUEUE)
    assert Outcome.from_json(job.body) == out


def test_failure_goes_to_on_failure_and_dead_letter(node: Node) -> None:
    out = outcome(Condition.RETRIES_EXHAUSTED)
    assert enqueue(node, out, on_success=QUEUE, on_failure=TOPIC, dead_letter=QUEUE) == 2
    assert [Target.from_attrs(j.attrs) for j in jobs(node)] == [
        Target(Side.DEAD_LETTER, QUEUE), Target(Side.ON_FAILURE, TOPIC)]


def test_nothing_configured_queues_nothing(node: Node) -> None:
    assert enqueue(node, outcome(Condition.EVENT_AGE_EXCEEDED), on_success=QUEUE) == 0
    assert enqueue(node, outcome(), on_failure=QUEUE, dead_letter=QUEUE) == 0
    assert jobs(node) == []


def test_an_event_ending_twice_is_not_delivered_twice_while_pending(node: Node) -> None:
    out = outcome(Condition.RETRIES_EXHAUSTED)
    assert enqueue(node, out, on_failure=QUEUE) == 1
    assert enqueue(node, out, on_failure=QUEUE) == 1
    assert len(jobs(node)) == 1


def _value(counter: Any, function: str) -> float:
    return float(counter.labels(function_name=function)._value.get())


def test_unsupported_target_gives_up_at_once_counted_and_logged(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    before = _value(metrics.DESTINATION_FAILURES, "f")
    dlq_before = _value(metrics.DEAD_LETTER_ERRORS, "f")
    enqueue(node, outcome(Condition.RETRIES_EXHAUSTED, "rid-sns"), on_failure=TOPIC, dead_letter=TOPIC)
    loop = DeliveryLoop(node)
    with caplog.at_level(logging.WARNING, logger="lambdalite.destinations.delivery"):
        assert asyncio.run(loop.run_once()) == 2
    assert jobs(node) == []
    assert _value(metrics.DESTINATION_FAILURES, "f") == before + 1
    assert _value(metrics.DEAD_LETTER_ERRORS, "f") == dlq_before + 1
    lines = [r.getMessage() for r in caplog.records if "rid-sns" in r.getMessage()]
    assert len(lines) == 2
    assert any('"requestContext"' in line and TOPIC in line for line in lines)  # the whole record
    assert any('"RequestID"' in line for line in lines)  # the DLQ message


def test_failing_target_is_retried_then_given_up(node: Node) -> None:
    missing = "arn:aws:lambda:us-east-1:000000000000:function:missing"
    before = _value(metrics.DESTINATION_FAILURES, "f")
    enqueue(node, outcome(Condition.SUCCESS, "rid-retry"), on_success=missing)
    loop = DeliveryLoop(node)

    async def scenario() -> None:
        assert await loop.run_once() == 1
        [job] = jobs(node)  # rescheduled, not lost
        assert job.receive_count == 1 and job.visible_ms > queues.now_ms()
        deadline = asyncio.get_running_loop().time() + 10
        while jobs(node):
            assert asyncio.get_running_loop().time() < deadline, "retry never ran"
            await loop.run_once()
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert _value(metrics.DESTINATION_FAILURES, "f") == before + 1
