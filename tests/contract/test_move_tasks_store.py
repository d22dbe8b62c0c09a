"""SQS message move tasks in the store, on every backend: one active task per source, the newest kept,
cancel with and without a live runner, claims that never share a task, and reports that keep a cancel."""

from __future__ import annotations

import asyncio

from lambdalite.model.sqs import CANCELLED, CANCELLING, COMPLETED, RUNNING, MoveTaskRecord
from lambdalite.store.protocol import Store
from tests.support.backends import Backend
from tests.support.records import queue_arn

SOURCE = queue_arn("dlq")
LEASE_MS = 10_000


def task(handle: str, source: str = SOURCE, started_ms: int = 1) -> MoveTaskRecord:
    return MoveTaskRecord(handle, source, None, None, 5, started_ms)


async def test_one_active_task_per_source_and_the_newest_kept(store: Store) -> None:
    assert await store.sqs_move_task_start(task("a"), kept=2)
    assert not await store.sqs_move_task_start(task("b"), kept=2)  # "a" is running
    assert await store.sqs_move_task_start(task("x", source=queue_arn("other")), kept=2)
    assert (await store.sqs_move_task_cancel("a", stale_before_ms=0) or task("?")).status == CANCELLED
    assert await store.sqs_move_task_start(task("b"), kept=2)
    assert (await store.sqs_move_task_cancel("b", stale_before_ms=0) or task("?")).status == CANCELLED
    assert await store.sqs_move_task_start(task("c"), kept=2)
    listed = await store.sqs_move_tasks(SOURCE, 10)
    assert [t.handle for t in listed] == ["c", "b"]  # newest first, "a" dropped
    assert [t.handle for t in await store.sqs_move_tasks(SOURCE, 1)] == ["c"]
    assert (await store.sqs_move_task("c") or task("?")).status == RUNNING
    assert await store.sqs_move_task("a") is None


async def test_cancel_waits_for_a_live_runner_and_ends_an_unheld_task_at_once(store: Store) -> None:
    await store.sqs_move_task_start(task("a"), kept=10)
    held = await store.sqs_move_task_claim("runner", now_ms=1_000, stale_before_ms=1_000 - LEASE_MS)
    assert held is not None and held.owner == "runner"
    cancelling = await store.sqs_move_task_cancel("a", stale_before_ms=1_000 - LEASE_MS)
    assert cancelling is not None and cancelling.status == CANCELLING
    reported = await store.sqs_move_task_report("a", "runner", moved=3, status=RUNNING, failure=None, now_ms=1_100)
    assert reported is not None and (reported.status, reported.moved) == (CANCELLING, 3)  # the cancel stands
    done = await store.sqs_move_task_report("a", "runner", moved=3, status=CANCELLED, failure=None, now_ms=1_200)
    assert done is not None and done.status == CANCELLED
    assert await store.sqs_move_task_cancel("nope", stale_before_ms=0) is None

    await store.sqs_move_task_start(task("b", source=queue_arn("q2")), kept=10)
    ended = await store.sqs_move_task_cancel("b", stale_before_ms=0)  # nobody runs it: no one to wait for
    assert ended is not None and ended.status == CANCELLED


async def test_a_task_is_claimed_by_one_runner_until_that_runner_goes_silent(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    await one.sqs_move_task_start(task("a"), kept=10)
    claims = await asyncio.gather(one.sqs_move_task_claim("r1", 1_000, 1_000 - LEASE_MS),
                                  two.sqs_move_task_claim("r2", 1_000, 1_000 - LEASE_MS))
    [winner] = [c for c in claims if c is not None]
    loser = "r2" if winner.owner == "r1" else "r1"
    assert await one.sqs_move_task_claim(loser, 5_000, 5_000 - LEASE_MS) is None  # its runner is live
    assert await one.sqs_move_task_report("a", winner.owner or "", moved=2, status=RUNNING, failure=None,
                                          now_ms=5_000) is not None
    later = 5_000 + LEASE_MS + 1  # the winner reported last at 5,000: silent for a lease by now
    taken = await two.sqs_move_task_claim(loser, later, later - LEASE_MS)
    assert taken is not None and (taken.owner, taken.moved) == (loser, 2)  # goes on where it stopped
    assert await one.sqs_move_task_report("a", winner.owner or "", moved=9, status=RUNNING, failure=None,
                                          now_ms=later) is None  # the old runner learns it lost the task


async def test_a_task_that_ended_stays_ended_whatever_a_late_runner_reports(store: Store) -> None:
    """A runner stalled past its lease (a pause, a slow database): meanwhile its task was cancelled as
    unheld, or completed by the runner that took it over. Its late report changes nothing and tells it
    the task is no longer its own."""
    await store.sqs_move_task_start(task("a"), kept=10)
    assert await store.sqs_move_task_claim("stalled", now_ms=1_000, stale_before_ms=1_000 - LEASE_MS)
    later = 1_000 + LEASE_MS + 1
    cancelled = await store.sqs_move_task_cancel("a", stale_before_ms=later - LEASE_MS)
    assert cancelled is not None and (cancelled.status, cancelled.owner) == (CANCELLED, None)
    assert await store.sqs_move_task_report("a", "stalled", moved=3, status=RUNNING, failure=None,
                                            now_ms=later) is None
    assert (await store.sqs_move_task("a") or task("?")).status == CANCELLED

    await store.sqs_move_task_start(task("b", source=queue_arn("q2")), kept=10)
    assert await store.sqs_move_task_claim("first", now_ms=1_000, stale_before_ms=1_000 - LEASE_MS)
    assert await store.sqs_move_task_claim("second", now_ms=later, stale_before_ms=later - LEASE_MS)
    done = await store.sqs_move_task_report("b", "second", moved=5, status=COMPLETED, failure=None, now_ms=later)
    assert done is not None and done.status == COMPLETED
    for owner in ("first", "second"):  # neither the replaced runner nor a late report of the finisher
        assert await store.sqs_move_task_report("b", owner, moved=2, status=RUNNING, failure=None,
                                                now_ms=later + 1) is None
    assert (await store.sqs_move_task("b") or task("?")).status == COMPLETED
