"""The one job loop (worker/jobs.JobLoop) with its destination and rule-target handlers, on a real store
of every backend.

Only the services that receive deliveries are faked (tests/support/fakes.FakePorts behind
`lambdalite.ports.Ports`); leasing, the pure retry policy, giving up, metrics and logs are lambdalite's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import orjson
import pytest

from lambdalite import metrics
from lambdalite.accept import enqueue_event
from lambdalite.clock import now_ms
from lambdalite.destinations.delivery import DestinationJobs
from lambdalite.destinations.record import record_bytes
from lambdalite.destinations.rule_targets import RuleTargetJobs
from lambdalite.destinations.seam import delivery_jobs
from lambdalite.faults import Fault
from lambdalite.model.event import DELIVERY_KIND, RULE_TARGET_KIND
from lambdalite.model.outcome import Condition, Outcome
from lambdalite.model.queue import AttemptEnd, NewMessage
from lambdalite.node import Node
from lambdalite.policy import JobLimits, job_retry_delay_ms
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.worker.dispatcher import Dispatcher
from lambdalite.worker.jobs import JobLoop
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.fakes import FakePool, FakePorts
from tests.support.records import (
    REGION,
    create_function,
    function_arn,
    outcome,
    queue_arn,
    queued_event,
    slot_of,
)

DEST = queue_arn("dest")
TOPIC = "arn:aws:sns:us-east-1:000000000000:topic"
BUS = "arn:aws:events:us-east-1:000000000000:event-bus/default"
BASE_DELAY_S = 0.05
ATTEMPTS = 3


class World:
    """One lambdalite process's delivery side: a Node on a fresh store whose ports are faked."""

    def __init__(self, backend: Backend):
        overrides: dict[str, Any] = {"delivery_attempts": ATTEMPTS, "delivery_retry_base_delay_s": BASE_DELAY_S,
                                     "throttle_base_delay_s": BASE_DELAY_S}
        self.store = backend.open(**overrides)
        self.ports = FakePorts()
        self.pool = FakePool()
        self.node = Node(settings=backend.settings(**overrides), store=self.store,
                         pool=cast(EnvironmentPool, self.pool), ports=self.ports)
        self.destinations = DestinationJobs(self.node)
        self.loop = JobLoop(self.node, [self.destinations, RuleTargetJobs(self.node)])

    async def deliveries(self, ended: Outcome, **targets: str | None) -> None:
        args: dict[str, Any] = {"on_success": None, "on_failure": None, "dead_letter": None, **targets}
        await self.store.enqueue_jobs(delivery_jobs(ended, **args))

    async def pending(self, kind: str = DELIVERY_KIND) -> bool:
        return await self.store.next_due_ms(kind) is not None


@pytest.fixture
def world(backend: Backend) -> World:
    return World(backend)


@contextlib.asynccontextmanager
async def running(loop: JobLoop) -> AsyncIterator[None]:
    task = asyncio.create_task(loop.run(), name="job loop under test")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def counted(counter: Any, function: str) -> float:
    return float(counter.labels(function_name=function)._value.get())


async def _not_pending(world: World) -> bool:
    return not await world.pending()


def due_at(ms: int) -> Callable[[], bool]:
    return lambda: now_ms() >= ms


def ended(condition: Condition = Condition.SUCCESS, function: str = "f") -> Outcome:
    return outcome(queued_event(function), condition)


# ---- deliveries that arrive ---------------------------------------------------------------------------


async def test_a_destination_delivery_sends_the_invocation_record_and_is_deleted(world: World) -> None:
    success = ended()
    await world.deliveries(success, on_success=DEST)
    assert await world.loop.run_once() == 1
    [sent] = world.ports.sent
    assert (sent.queue_arn, sent.body, sent.attributes) == (DEST, record_bytes(success).decode(), None)
    assert not await world.pending()


async def test_a_dead_letter_delivery_sends_the_original_event_with_its_error_attributes(world: World) -> None:
    failure = ended(Condition.RETRIES_EXHAUSTED)
    await world.deliveries(failure, dead_letter=DEST)
    assert await world.loop.run_once() == 1
    [sent] = world.ports.sent
    assert sent.queue_arn == DEST and sent.body == failure.request_payload.decode()
    assert sent.attributes is not None and sent.attributes["RequestID"]["StringValue"] == failure.request_id


async def test_an_eventbridge_destination_puts_one_event_on_the_bus(world: World) -> None:
    success = ended()
    await world.deliveries(success, on_success=BUS)
    assert await world.loop.run_once() == 1
    [put] = world.ports.put
    [entry] = put.entries
    assert put.region == REGION and entry["EventBusName"] == BUS and entry["Source"] == "lambda"
    assert orjson.loads(entry["Detail"])["requestContext"]["requestId"] == success.request_id


async def test_a_lambda_destination_queues_an_event_for_the_target_function(world: World) -> None:
    await create_function(world.store, "target")
    success = ended()
    await world.deliveries(success, on_success=function_arn("target"))
    assert await world.loop.run_once() == 1
    [leased] = await world.store.lease_events(10, 60_000)
    assert leased.message.queue == "@lambda/target"
    assert orjson.loads(leased.message.body)["requestContext"]["requestId"] == success.request_id


# ---- retries and giving up ----------------------------------------------------------------------------


async def test_a_failed_delivery_is_retried_with_the_policys_delays_then_given_up(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.ports.refuse_sqs[DEST] = -1
    failures = counted(metrics.DESTINATION_FAILURES, "f")
    success = ended()
    await world.deliveries(success, on_success=DEST)
    limits = JobLimits(max_attempts=ATTEMPTS, base_delay_s=BASE_DELAY_S)  # what the settings say
    with caplog.at_level(logging.WARNING, logger="lambdalite.destinations.delivery"):
        for attempt in range(1, ATTEMPTS):
            before_ms = now_ms()
            assert await world.loop.run_once() == 1
            after_ms = now_ms()
            delay_ms = job_retry_delay_ms(attempt, 0, limits, permanent=False)
            assert delay_ms == int(BASE_DELAY_S * 1000 * 2 ** (attempt - 1))
            due = await world.store.next_due_ms(DELIVERY_KIND)
            assert due is not None and before_ms + delay_ms <= due <= after_ms + delay_ms
            assert await world.loop.run_once() == 0  # not before it is due
            await wait_for(due_at(due), what="the retry to become due")
        assert await world.loop.run_once() == 1
    assert world.ports.refused == [DEST] * ATTEMPTS and world.ports.sent == []
    assert not await world.pending()
    assert counted(metrics.DESTINATION_FAILURES, "f") == failures + 1
    [line] = [r.getMessage() for r in caplog.records if success.request_id in r.getMessage()]
    assert f"after {ATTEMPTS} attempt(s)" in line and '"requestContext"' in line


async def test_a_delivery_that_fails_once_arrives_on_the_retry(world: World) -> None:
    world.ports.refuse_sqs[DEST] = 1
    success = ended()
    await world.deliveries(success, on_success=DEST)
    async with running(world.loop):
        await wait_for(lambda: world.ports.sent, what="the retried delivery")
        await wait_for(lambda: _not_pending(world), what="the delivered job deleted")
    assert world.ports.refused == [DEST] and [m.body for m in world.ports.sent] == [record_bytes(success).decode()]


async def test_an_unsupported_target_is_given_up_at_once_counted_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    failures = counted(metrics.DESTINATION_FAILURES, "f")
    dead_letter_errors = counted(metrics.DEAD_LETTER_ERRORS, "f")
    failure = ended(Condition.RETRIES_EXHAUSTED)
    await world.deliveries(failure, on_failure=TOPIC, dead_letter=TOPIC)
    with caplog.at_level(logging.WARNING, logger="lambdalite.destinations.delivery"):
        assert await world.loop.run_once() == 2
    assert not await world.pending()
    assert counted(metrics.DESTINATION_FAILURES, "f") == failures + 1
    assert counted(metrics.DEAD_LETTER_ERRORS, "f") == dead_letter_errors + 1
    lines = [r.getMessage() for r in caplog.records if failure.request_id in r.getMessage()]
    assert len(lines) == 2 and all("after 1 attempt(s)" in line for line in lines)
    assert any('"requestContext"' in line and TOPIC in line for line in lines)  # the whole record
    assert any('"RequestID"' in line for line in lines)  # the DLQ message


async def test_a_missing_destination_function_is_retried_then_given_up(world: World) -> None:
    failures = counted(metrics.DESTINATION_FAILURES, "f")
    await world.deliveries(ended(), on_success=function_arn("missing"))
    before_ms = now_ms()
    assert await world.loop.run_once() == 1
    due = await world.store.next_due_ms(DELIVERY_KIND)  # rescheduled (not lost), after the retry delay
    assert due is not None and due >= before_ms + int(BASE_DELAY_S * 1000)
    async with running(world.loop):
        await wait_for(lambda: counted(metrics.DESTINATION_FAILURES, "f") == failures + 1, what="giving up")
        await wait_for(lambda: _not_pending(world), what="the given-up job deleted")


async def test_an_undecodable_job_is_dropped_loudly_and_the_rest_go_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    failures = counted(metrics.DESTINATION_FAILURES, "f")
    await world.store.enqueue_jobs([NewMessage(kind=DELIVERY_KIND, queue="@delivery/f", id="junk", body=b"{not json",
                                               attrs=b"?")])
    await world.deliveries(ended(), on_success=DEST)
    with caplog.at_level(logging.ERROR, logger="lambdalite.destinations.delivery"):
        assert await world.loop.run_once() == 2
    assert any("undecodable" in r.getMessage() and "junk" in r.getMessage() for r in caplog.records)
    assert len(world.ports.sent) == 1 and not await world.pending()
    assert counted(metrics.DESTINATION_FAILURES, "f") == failures


# ---- EventBridge rule targets -------------------------------------------------------------------------


def rule_job(target: dict[str, Any], *, max_retries: int = 0) -> NewMessage:
    event = {"id": "e-1", "source": "app", "detail-type": "t", "detail": {"n": 1}, "time": "2024-01-01T00:00:00Z",
             "resources": []}
    spec = {"target": target, "event": event, "region": REGION, "rule": "r", "rule_arn": "arn:rule/r",
            "max_retries": max_retries, "max_age_s": 3600}
    return NewMessage(kind=RULE_TARGET_KIND, queue="@events/r", id=f"e-1/{target['Id']}", body=orjson.dumps(spec))


async def test_a_rule_target_receives_the_payload_it_asked_for(world: World) -> None:
    await world.store.enqueue_jobs([rule_job({"Id": "t", "Arn": DEST, "InputPath": "$.detail"})])
    assert await world.loop.run_once() == 1
    assert [(m.queue_arn, orjson.loads(m.body)) for m in world.ports.sent] == [(DEST, {"n": 1})]
    assert not await world.pending(RULE_TARGET_KIND)


async def test_a_refused_rule_target_is_not_retried(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Like AWS: a missing or refusing resource (a 4xx other than throttling) is given up at once."""
    world.ports.refuse_sqs[DEST] = -1
    await world.store.enqueue_jobs([rule_job({"Id": "t", "Arn": DEST}, max_retries=5)])
    with caplog.at_level(logging.WARNING, logger="lambdalite.destinations.rule_targets"):
        assert await world.loop.run_once() == 1
    assert world.ports.refused == [DEST] and not await world.pending(RULE_TARGET_KIND)
    assert any("dropping delivery of e-1" in r.getMessage() for r in caplog.records)


def string_attributes(attributes: dict[str, dict[str, Any]] | None) -> dict[str, str]:
    assert attributes is not None and all(a["DataType"] == "String" for a in attributes.values())
    return {name: a["StringValue"] for name, a in attributes.items()}


async def test_a_refused_rule_target_sends_the_event_to_its_dead_letter_queue_at_once(world: World) -> None:
    world.ports.refuse_sqs[DEST] = -1
    target = {"Id": "t", "Arn": DEST, "InputPath": "$.detail", "DeadLetterConfig": {"Arn": queue_arn("dlq")}}
    await world.store.enqueue_jobs([rule_job(target, max_retries=5)])
    assert await world.loop.run_once() == 1  # refused: no retry, the dead-letter message queued
    assert await world.loop.run_once() == 1
    [letter] = world.ports.sent
    assert letter.queue_arn == queue_arn("dlq") and orjson.loads(letter.body)["id"] == "e-1"  # the event itself
    assert string_attributes(letter.attributes) == {
        "RULE_ARN": "arn:rule/r", "TARGET_ARN": DEST, "ERROR_CODE": "NO_RESOURCE",
        "ERROR_MESSAGE": "The specified queue does not exist.", "RETRY_ATTEMPTS": "0"}
    assert not await world.pending(RULE_TARGET_KIND)


async def test_a_throttled_rule_target_goes_to_its_dead_letter_queue_when_its_retries_run_out(world: World) -> None:
    send = world.ports.send_sqs
    throttled: list[str] = []

    async def throttling(arn: str, body: str, attributes: dict[str, dict[str, Any]] | None) -> str:
        if arn == DEST:
            throttled.append(body)
            raise Fault(429, "ThrottlingException", "Rate exceeded")
        return await send(arn, body, attributes)

    world.ports.send_sqs = throttling  # type: ignore[method-assign, assignment]
    target = {"Id": "t", "Arn": DEST, "DeadLetterConfig": {"Arn": queue_arn("dlq")}}
    await world.store.enqueue_jobs([rule_job(target, max_retries=1)])

    async def step() -> list[Any]:  # one turn of the loop each poll: the retry comes when it is due
        if not world.ports.sent:
            await world.loop.run_once()
        return list(world.ports.sent)

    [letter] = await wait_for(step, what="the dead-letter message")
    assert len(throttled) == 2  # the first attempt and its one retry
    assert string_attributes(letter.attributes) == {
        "RULE_ARN": "arn:rule/r", "TARGET_ARN": DEST, "ERROR_CODE": "THROTTLING", "ERROR_MESSAGE": "Rate exceeded",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts", "RETRY_ATTEMPTS": "1"}


# ---- with the dispatcher ------------------------------------------------------------------------------


async def test_an_ended_event_is_delivered_by_the_job_loop_of_the_same_process(world: World) -> None:
    """The attempt's end queues the delivery and wakes the job loop: the record arrives."""
    await create_function(world.store, "f")
    await world.store.put_event_config("f", "$LATEST", {"DestinationConfig": {"OnSuccess": {"Destination": DEST}}},
                                       now_ms())
    dispatcher = Dispatcher(world.node)
    task = asyncio.create_task(dispatcher.run())
    try:
        async with running(world.loop):
            request_id = await enqueue_event(world.node, function_arn("f"), b'{"k": 1}', REGION)
            [sent] = await wait_for(lambda: world.ports.sent, what="the OnSuccess record")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    record = orjson.loads(sent.body)
    assert sent.queue_arn == DEST and record["requestContext"]["requestId"] == request_id
    assert record["requestPayload"] == {"k": 1} and record["requestContext"]["condition"] == "Success"


async def test_a_slow_delivery_holds_up_only_itself(world: World) -> None:
    """A target that takes long (an HTTP endpoint using its whole timeout) must not delay jobs queued after
    it: the loop leases and starts more while it runs."""
    slow_arn = queue_arn("slow")
    started, release = asyncio.Event(), asyncio.Event()
    send = world.ports.send_sqs

    async def blocking(arn: str, body: str, attributes: dict[str, dict[str, Any]] | None) -> str:
        if arn == slow_arn:
            started.set()
            await release.wait()
        return await send(arn, body, attributes)

    world.ports.send_sqs = blocking  # type: ignore[method-assign, assignment]
    async with running(world.loop):
        await world.deliveries(outcome(queued_event("f")), on_success=slow_arn)
        await wait_for(started.is_set, what="the slow delivery under way")
        await world.deliveries(outcome(queued_event("g")), on_success=DEST)
        await wait_for(lambda: [m for m in world.ports.sent if m.queue_arn == DEST], what="the later delivery")
        assert not release.is_set() and all(m.queue_arn != slow_arn for m in world.ports.sent)
        release.set()
        await wait_for(lambda: [m for m in world.ports.sent if m.queue_arn == slow_arn], what="the slow delivery")


async def test_a_job_queued_by_another_process_is_found_by_polling(backend: Backend) -> None:
    world = World(backend)
    other = backend.open()
    event = queued_event("f")
    await create_function(other, "f")
    await other.accept_event(event, b"{}")
    [leased] = await other.lease_events(1, 60_000)
    success = outcome(event)
    jobs = delivery_jobs(success, on_success=DEST, on_failure=None, dead_letter=None)
    async with running(world.loop):
        assert await other.finish_attempt(leased.message, AttemptEnd(slot_of(leased.claim), outcome=success, jobs=jobs))
        await wait_for(lambda: world.ports.sent, what="the job queued by the other process")
