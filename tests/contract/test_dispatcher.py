"""The dispatcher and the attempt, in process, on a real store of every backend.

Only the execution environments are faked (tests/support/fakes.FakePool): everything between an
accepted event and its committed end (leases, slots, the retry policy, outcomes, delivery jobs, direct
dispatch, shutdown) is lambdalite's own code. Timings are shortened through Settings; every wait polls
a condition against a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from lambdalite import lineage, metrics
from lambdalite.accept import enqueue_event
from lambdalite.clock import now_ms
from lambdalite.destinations.job import Side, Target
from lambdalite.model.event import DELIVERY_KIND, QueuedEvent
from lambdalite.model.outcome import Condition, Outcome
from lambdalite.model.queue import Leased
from lambdalite.node import Node
from lambdalite.policy import Done, Retry
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.wakeups import EVENTS, JOBS
from lambdalite.worker.attempt import Attempt
from lambdalite.worker.dispatcher import Dispatcher
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.fakes import FakePool, function_error, ok, system_error
from tests.support.records import REGION, create_function, function_arn, queue_arn, queued_event

FUNCTION_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ON_SUCCESS = queue_arn("on-success")
ON_FAILURE = queue_arn("on-failure")
DLQ = queue_arn("dlq")
RETRY_BASE_S = 0.05
FAST = {"lease_s": 5.0, "retry_base_delay_s": RETRY_BASE_S, "throttle_base_delay_s": 0.02,
        "throttle_max_delay_s": 0.1}


class World:
    """One lambdalite process under test: a Node on a fresh store, its environments faked."""

    def __init__(self, backend: Backend, **settings: Any):
        overrides = {**FAST, **settings}
        self.backend = backend
        self.store = backend.open(**overrides)
        self.pool = FakePool()
        self.node = Node(settings=backend.settings(**overrides), store=self.store,
                         pool=cast(EnvironmentPool, self.pool))  # the fake stands in for the environments
        self.jobs_woken = 0
        self.node.wakeups.listen(JOBS, self._on_jobs)

    def _on_jobs(self) -> None:
        self.jobs_woken += 1

    async def function(self, name: str = "f", *, reserved: int | None = None, event_config: dict[str, Any] | None = None,
                       **params: Any) -> None:
        await create_function(self.store, name, reserved=reserved, **params)
        if event_config is not None:
            await self.store.put_event_config(name, "$LATEST", event_config, now_ms())

    async def accept(self, name: str = "f", payload: bytes = b'{"n": 1}') -> str:
        """Queue an event as Invoke(InvocationType=Event) does."""
        return await enqueue_event(self.node, function_arn(name), payload, REGION)

    async def accept_stored(self, event: QueuedEvent, payload: bytes = b"{}") -> None:
        """Queue an event as another process's accept would (no direct dispatch), and wake the dispatcher."""
        await self.store.accept_event(event, payload)
        self.node.wakeups.notify(EVENTS)

    async def outcome(self, request_id: str) -> Outcome:
        return await wait_for(lambda: self.store.get_outcome(request_id), what=f"the outcome of {request_id}")

    async def jobs(self) -> dict[str, Target]:
        return {j.id: Target.from_attrs(j.attrs) for j in await self.store.lease_jobs(DELIVERY_KIND, 60_000, 100)}

    async def queue_counts(self) -> dict[str, tuple[int, int, int]]:
        rows = await self.store.queue_report(now_ms())
        return {r.function: (r.queued, r.in_flight, r.delayed) for r in rows if r.queued or r.in_flight or r.delayed}


@pytest.fixture
def world(backend: Backend) -> World:
    return World(backend)


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(dispatcher.run(), name="dispatcher under test")
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def counted(counter: Any, function: str) -> float:
    return float(counter.labels(function)._value.get())


# ---- how events end -----------------------------------------------------------------------------------


async def test_a_successful_event_records_success_and_queues_its_on_success_delivery(world: World) -> None:
    await world.function(event_config={"DestinationConfig": {"OnSuccess": {"Destination": ON_SUCCESS},
                                                             "OnFailure": {"Destination": ON_FAILURE}}})
    world.pool.answers(ok(b'{"result": 42}'))
    async with running(Dispatcher(world.node)):
        request_id = await world.accept(payload=b'{"n": 7}')
        ended = await world.outcome(request_id)
        # A finished event with deliveries wakes the job loop, once its commit has returned to the
        # dispatcher: a moment after the outcome is visible to other connections.
        await wait_for(lambda: world.jobs_woken >= 1, what="the job loop woken")
    assert ended.condition is Condition.SUCCESS and ended.approximate_invoke_count == 1
    assert (ended.response_payload, ended.status_code, ended.executed_version) == (b'{"result": 42}', 200, "$LATEST")
    assert ended.request_payload == b'{"n": 7}' and ended.function_error is None
    [call] = world.pool.calls
    assert (call.request.request_id, call.request.payload, call.request.invoked_arn) == (
        request_id, b'{"n": 7}', function_arn("f"))
    assert call.prefer_warm and call.spec.function_name == "f" and call.spec.version == "$LATEST"
    assert call.request.trace_id is not None
    assert lineage.lineage_count(call.request.trace_id) == 1  # the first invocation of its chain
    assert await world.jobs() == {f"{request_id}/on_success": Target(Side.ON_SUCCESS, ON_SUCCESS)}
    assert await world.queue_counts() == {}


async def test_a_function_error_is_retried_per_policy_then_exhausted_to_on_failure_and_the_dlq(
    world: World,
) -> None:
    await world.function(event_config={"MaximumRetryAttempts": 2,
                                       "DestinationConfig": {"OnFailure": {"Destination": ON_FAILURE}}},
                         DeadLetterConfig={"TargetArn": DLQ})
    world.pool.answers(function_error("boom"))
    dropped = counted(metrics.ASYNC_DROPPED, "f")
    async with running(Dispatcher(world.node)):
        request_id = await world.accept()
        ended = await world.outcome(request_id)
    assert ended.condition is Condition.RETRIES_EXHAUSTED and ended.approximate_invoke_count == 3
    assert (ended.function_error, ended.error_type, ended.error_message) == ("Unhandled", "ValueError", "boom")
    starts = [c.started_ms for c in world.pool.calls]
    assert len(starts) == 3 and {c.request.request_id for c in world.pool.calls} == {request_id}
    # The n-th retry waits n x the retry base delay after the try before it ended.
    assert starts[1] - starts[0] >= 1000 * RETRY_BASE_S and starts[2] - starts[1] >= 2000 * RETRY_BASE_S
    assert await world.jobs() == {f"{request_id}/on_failure": Target(Side.ON_FAILURE, ON_FAILURE),
                                  f"{request_id}/dead_letter": Target(Side.DEAD_LETTER, DLQ)}
    assert counted(metrics.ASYNC_DROPPED, "f") == dropped + 1


async def test_no_retry_when_maximum_retry_attempts_is_zero(world: World) -> None:
    await world.function(event_config={"MaximumRetryAttempts": 0})
    world.pool.answers(function_error())
    async with running(Dispatcher(world.node)):
        ended = await world.outcome(await world.accept())
    assert ended.condition is Condition.RETRIES_EXHAUSTED and ended.approximate_invoke_count == 1
    assert len(world.pool.calls) == 1


async def test_a_system_error_backs_off_without_using_a_retry_or_counting_an_invocation(world: World) -> None:
    await world.function(event_config={"MaximumRetryAttempts": 0})
    world.pool.answers(system_error(), system_error(), ok())
    async with running(Dispatcher(world.node)):
        ended = await world.outcome(await world.accept())
    assert ended.condition is Condition.SUCCESS and ended.approximate_invoke_count == 1
    assert len(world.pool.calls) == 3


async def test_reserved_concurrency_zero_ends_the_event_unrun(world: World) -> None:
    await world.function(reserved=0, event_config={"DestinationConfig": {"OnFailure": {"Destination": ON_FAILURE}}})
    async with running(Dispatcher(world.node)):
        request_id = await world.accept()
        ended = await world.outcome(request_id)
    assert ended.condition is Condition.ZERO_RESERVED_CONCURRENCY and ended.approximate_invoke_count == 0
    assert ended.status_code is None and ended.response_payload is None
    assert world.pool.calls == []
    assert await world.jobs() == {f"{request_id}/on_failure": Target(Side.ON_FAILURE, ON_FAILURE)}


async def test_an_event_waits_with_backoff_while_its_function_has_no_free_slot(world: World) -> None:
    await world.function(reserved=1)
    busy = await world.store.acquire_slot("f", 1)  # another invocation holds the only slot
    assert isinstance(busy, int)
    throttles = counted(metrics.THROTTLES, "f")
    async with running(Dispatcher(world.node)):
        request_id = await world.accept()
        await wait_for(lambda: counted(metrics.THROTTLES, "f") >= throttles + 3, what="three throttled tries")
        assert world.pool.calls == [] and await world.store.get_outcome(request_id) is None
        assert sum(sum(c) for c in (await world.queue_counts()).values()) == 1  # still queued, not lost
        await world.store.release_slot(busy)
        ended = await world.outcome(request_id)
    assert ended.condition is Condition.SUCCESS and ended.approximate_invoke_count == 1  # throttles are not tries
    assert len(world.pool.calls) == 1


async def test_an_event_past_its_maximum_age_ends_unrun(world: World) -> None:
    await world.function(event_config={"MaximumEventAgeInSeconds": 60,
                                       "DestinationConfig": {"OnFailure": {"Destination": ON_FAILURE}}})
    event = queued_event("f", accepted_ms=now_ms() - 61_000)
    async with running(Dispatcher(world.node)):
        await world.accept_stored(event)
        ended = await world.outcome(event.request_id)
    assert ended.condition is Condition.EVENT_AGE_EXCEEDED and ended.approximate_invoke_count == 0
    assert world.pool.calls == []
    assert set(await world.jobs()) == {f"{event.request_id}/on_failure"}


async def test_a_retry_that_would_start_past_the_maximum_age_ends_the_event(backend: Backend) -> None:
    world = World(backend, retry_base_delay_s=120.0)
    await world.function(event_config={"MaximumEventAgeInSeconds": 60})
    world.pool.answers(function_error())
    async with running(Dispatcher(world.node)):
        ended = await world.outcome(await world.accept())
    assert ended.condition is Condition.EVENT_AGE_EXCEEDED and ended.approximate_invoke_count == 1
    assert len(world.pool.calls) == 1


async def test_an_event_of_a_deleted_function_is_dropped_without_an_outcome(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    event = queued_event("ghost")
    with caplog.at_level(logging.WARNING, logger="lambdalite.worker.attempt"):
        async with running(Dispatcher(world.node)):
            await world.accept_stored(event)
            await wait_for(lambda: any(event.request_id in r.getMessage() for r in caplog.records),
                           what="the drop to be logged")

            async def gone() -> bool:
                return await world.queue_counts() == {}

            await wait_for(gone, what="the event to be deleted")
    assert await world.store.get_outcome(event.request_id) is None and world.pool.calls == []


async def test_events_accepted_by_another_process_are_found_by_polling(backend: Backend) -> None:
    world = World(backend)
    await world.function()
    other = backend.open()
    event = queued_event("f")
    async with running(Dispatcher(world.node)):
        await other.accept_event(event, b"{}")  # no wake-up reaches this process
        ended = await world.outcome(event.request_id)
    assert ended.condition is Condition.SUCCESS


# ---- direct dispatch ----------------------------------------------------------------------------------


async def test_an_accepted_event_goes_straight_to_this_processes_dispatcher(world: World) -> None:
    await world.function()
    dispatcher = Dispatcher(world.node)
    assert world.node.dispatcher is dispatcher
    world.pool.hold()
    async with running(dispatcher):
        request_id = await world.accept()
        # Queued already leased to this dispatcher and started: no lease write, no queue read.
        assert request_id in dispatcher.held
        assert await world.queue_counts() == {"f": (0, 1, 0)}
        await wait_for(lambda: world.pool.calls, what="the event to run")
        world.pool.release()
        ended = await world.outcome(request_id)
    assert ended.condition is Condition.SUCCESS and len(world.pool.calls) == 1


async def test_a_full_dispatcher_leaves_accepted_events_queued_for_later(world: World) -> None:
    await world.function()
    dispatcher = Dispatcher(world.node, max_running=1)
    world.pool.hold()
    async with running(dispatcher):
        first = await world.accept()
        second = await world.accept()
        assert first in dispatcher.held and second not in dispatcher.held
        assert await world.queue_counts() == {"f": (1, 1, 0)}
        await wait_for(lambda: world.pool.calls, what="the first event to run")
        world.pool.release()
        assert (await world.outcome(first)).condition is Condition.SUCCESS
        assert (await world.outcome(second)).condition is Condition.SUCCESS
    assert [c.request.request_id for c in world.pool.calls] == [first, second]


# ---- leases -------------------------------------------------------------------------------------------


async def test_a_late_commit_after_the_lease_was_lost_changes_nothing(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """The event's lease lapsed mid-run and another process took it: this dispatcher's commit is refused
    (logged), the other's stands. The dispatcher's per-event path is driven directly (`_start`, what its
    loop does for each leased event) so that no renewer keeps the lease alive."""
    world = World(backend)
    theirs = backend.open()
    await world.function(event_config={"DestinationConfig": {"OnSuccess": {"Destination": ON_SUCCESS}}})
    event = queued_event("f")
    await world.store.accept_event(event, b"{}")
    [mine] = await world.store.lease_events(1, 1)  # lapses at once
    [taken] = await wait_for(lambda: theirs.lease_events(1, 60_000), what="another process to take the event")
    dispatcher = Dispatcher(world.node)
    with caplog.at_level(logging.INFO, logger="lambdalite.worker.dispatcher"):
        dispatcher._start(mine.message, mine.claim)
        await wait_for(lambda: not dispatcher.tasks, what="the attempt to end")
    assert len(world.pool.calls) == 1  # it ran
    assert any("lease lost" in r.getMessage() and event.request_id in r.getMessage() for r in caplog.records)
    assert await world.store.get_outcome(event.request_id) is None
    assert await world.jobs() == {}
    assert await world.queue_counts() == {"f": (0, 1, 0)}  # still theirs
    assert not dispatcher.held
    assert isinstance(taken.claim, int)


async def test_shutdown_hands_running_events_back_at_once(backend: Backend) -> None:
    """A stopped dispatcher's events become due now (not after their lease) and free their slots."""
    world = World(backend, lease_s=60.0)
    theirs = backend.open()
    await world.function(reserved=1)
    world.pool.hold()
    dispatcher = Dispatcher(world.node)
    async with running(dispatcher) as task:
        request_id = await world.accept()
        await wait_for(lambda: world.pool.calls, what="the event to run")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    slot = await theirs.acquire_slot("f", 1)
    assert isinstance(slot, int)  # the cancelled attempt released its slot
    await theirs.release_slot(slot)
    [again] = await theirs.lease_events(10, 60_000)
    assert again.message.id == request_id and again.message.receive_count == 2
    assert await theirs.get_outcome(request_id) is None


# ---- the attempt on its own ---------------------------------------------------------------------------


async def lease(world: World, event: QueuedEvent) -> Leased:
    await world.store.accept_event(event, b'{"p": 1}')
    [leased] = await world.store.lease_events(1, 60_000)
    return leased


async def test_an_attempt_refused_a_slot_at_lease_is_throttled_without_running(world: World) -> None:
    await world.function(reserved=1)
    event = queued_event("f", attempts=1, backoffs=2)
    leased = await lease(world, event)
    finish = await Attempt(world.node, leased.message, event, FUNCTION_LIMIT).run()
    assert world.pool.calls == [] and finish.slot_id is None and finish.outcome is None
    assert isinstance(finish.decision, Retry)
    assert finish.decision.event.backoffs == 3 and finish.decision.event.attempts == 1
    assert finish.decision.at_ms > now_ms() - 1000


async def test_an_attempt_leased_without_a_claim_takes_its_own_slot(world: World) -> None:
    """The function was created or changed between lease and run: the attempt acquires the slot."""
    await world.function(reserved=1)
    event = queued_event("f")
    leased = await lease(world, event)
    if isinstance(leased.claim, int):
        await world.store.release_slot(leased.claim)
    finish = await Attempt(world.node, leased.message, event, None).run()
    assert isinstance(finish.slot_id, int) and isinstance(finish.decision, Done)
    assert finish.outcome is not None and finish.outcome.condition is Condition.SUCCESS
    assert await world.store.acquire_slot("f", 1) == FUNCTION_LIMIT  # held until the commit releases it


async def test_a_failure_inside_lambdalite_backs_off_instead_of_crashing_the_attempt(world: World) -> None:
    await world.function()
    event = queued_event("f")
    leased = await lease(world, event)

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug of lambdalite's")

    world.pool.answer = broken
    finish = await Attempt(world.node, leased.message, event, leased.claim).run()
    assert isinstance(finish.decision, Retry) and finish.decision.event.retries_used == 0
    assert finish.decision.event.attempts == 0 and finish.decision.event.backoffs == 1
    assert finish.slot_id == leased.claim  # handed to the commit, which releases it


async def test_a_recursive_loop_is_stopped_before_the_function_runs(world: World) -> None:
    await world.function()
    event = queued_event("f", hops=16)
    leased = await lease(world, event)
    finish = await Attempt(world.node, leased.message, event, leased.claim).run()
    assert world.pool.calls == []
    assert finish.outcome is not None and finish.outcome.condition is Condition.RECURSIVE_INVOCATION


async def test_a_cancelled_attempt_releases_its_slot(world: World) -> None:
    await world.function(reserved=1)
    event = queued_event("f")
    leased = await lease(world, event)
    assert isinstance(leased.claim, int)
    world.pool.hold()
    task = asyncio.create_task(Attempt(world.node, leased.message, event, leased.claim).run())
    await wait_for(lambda: world.pool.calls, what="the function to run")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(await world.store.acquire_slot("f", 1), int)
