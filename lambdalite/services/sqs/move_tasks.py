"""StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask: DLQ redrive, as SQS defines it.

The source must be a dead-letter queue of another SQS queue. Each message goes back to the queue it was
dead-lettered from (its DeadLetterQueueSourceArn), or to DestinationArn when given, as a new message with
the same body and attributes; it is deleted from the source once the destination holds it (a crash in
between duplicates, never loses). Tasks are kept in the store (the ten most recent per source queue, as
ListMessageMoveTasks shows), so every node lists and cancels every task. A `MoveTaskRunner` in each
dispatching process moves them: it claims a task no live runner holds and reports after every batch; a
runner silent for a lease (its process died) is replaced by another, which goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from typing import Any

import orjson

from lambdalite.aio import wait_event
from lambdalite.clock import now_ms
from lambdalite.model.queue import Message, NewMessage
from lambdalite.model.sqs import (
    CANCELLED,
    CANCELLING,
    COMPLETED,
    FAILED,
    RUNNING,
    MoveTaskRecord,
    QueueRecord,
)
from lambdalite.node import Node
from lambdalite.services.sqs import errors
from lambdalite.services.sqs import queue_attributes as qa
from lambdalite.services.sqs.common import KIND, Ctx, Params, integer, string
from lambdalite.store.errors import StoreUnavailable
from lambdalite.wakeups import sqs_topic

log = logging.getLogger(__name__)

Result = dict[str, Any]
MAX_RATE = 500
KEPT_PER_SOURCE = 10
_BATCH = 10
MOVE_TASKS = "sqs-move-tasks"  # wake-up topic: a task was started in this process
POLL_S = 0.5  # how often a runner looks for tasks started elsewhere (or left by a dead runner)
CHECK_S = 0.25  # while pausing for the rate: how often a runner looks for a cancel
CANCEL_WAIT_S = 10.0  # Cancel waits this long at most for the runner to stop after its batch in hand
RUNNERS = 8  # tasks one process moves at once
_LOST = "LOST"  # a runner's own status: another runner took the task over


def entry(task: MoveTaskRecord) -> Result:
    out: Result = {"Status": task.status, "SourceArn": task.source_arn,
                   "ApproximateNumberOfMessagesMoved": task.moved,
                   "ApproximateNumberOfMessagesToMove": task.to_move, "StartedTimestamp": task.started_ms}
    if task.status == RUNNING:
        out["TaskHandle"] = task.handle
    if task.destination_arn:
        out["DestinationArn"] = task.destination_arn
    if task.rate is not None:
        out["MaxNumberOfMessagesPerSecond"] = task.rate
    if task.failure:
        out["FailureReason"] = task.failure
    return out


def _stale_before_ms(node: Node) -> int:
    return now_ms() - int(node.settings.lease_s * 1000)


def _not_found(what: str) -> errors.SqsError:
    return errors.SqsError("ResourceNotFoundException", f"The resource that you specified for the {what} parameter "
                           "doesn't exist.")


async def _queue(ctx: Ctx, queue_arn: str, what: str) -> QueueRecord:
    record = await ctx.node.store.sqs_queue_by_arn(queue_arn)
    if record is None:
        raise _not_found(what)
    return record


async def _sources_of(ctx: Ctx, dlq_arn: str) -> list[str]:
    return [r.arn for r in await ctx.node.store.sqs_queues(ctx.region)
            if (qa.redrive_of(r.attrs) or ("", 0))[0] == dlq_arn]


async def start_message_move_task(ctx: Ctx, params: Params) -> Result:
    source = await _queue(ctx, string(params, "SourceArn", required=True) or "", "SourceArn")
    destination = string(params, "DestinationArn")
    rate = integer(params, "MaxNumberOfMessagesPerSecond")
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise errors.invalid_value("MaxNumberOfMessagesPerSecond", rate, f"must be between 1 and {MAX_RATE}.")
    sources = await _sources_of(ctx, source.arn)
    if not sources:
        raise errors.invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
    if destination is not None:
        await _queue(ctx, destination, "DestinationArn")
    counts = await ctx.node.store.sqs_counts(source.arn, int(source.attrs["MessageRetentionPeriod"]))
    handle = base64.b64encode(orjson.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source.arn})).decode()
    task = MoveTaskRecord(handle, source.arn, destination, rate, counts.visible + counts.in_flight + counts.delayed,
                          now_ms())
    if not await ctx.node.store.sqs_move_task_start(task, KEPT_PER_SOURCE):
        raise errors.SqsError("UnsupportedOperation", "There is already a task running. Only one active task is "
                              "allowed for each source queue arn at a given time.")
    ctx.node.wakeups.notify(MOVE_TASKS)
    return {"TaskHandle": handle}


async def list_message_move_tasks(ctx: Ctx, params: Params) -> Result:
    source = await _queue(ctx, string(params, "SourceArn", required=True) or "", "SourceArn")
    limit = integer(params, "MaxResults")
    if limit is not None and not 1 <= limit <= KEPT_PER_SOURCE:
        raise errors.invalid_value("MaxResults", limit, f"must be between 1 and {KEPT_PER_SOURCE}.")
    return {"Results": [entry(t) for t in await ctx.node.store.sqs_move_tasks(source.arn, limit or 1)]}


async def cancel_message_move_task(ctx: Ctx, params: Params) -> Result:
    handle = string(params, "TaskHandle", required=True) or ""
    store = ctx.node.store
    task = await store.sqs_move_task(handle)
    if task is None:
        raise errors.SqsError("ResourceNotFoundException", "Task does not exist.")
    if task.status != RUNNING:
        raise errors.SqsError("UnsupportedOperation", f"Task is in status {task.status}: only a RUNNING task can "
                              "be cancelled.")
    task = await store.sqs_move_task_cancel(handle, _stale_before_ms(ctx.node)) or task
    # The runner stops after the batch in hand: wait for it, so the count returned is the final one.
    loop = asyncio.get_running_loop()
    deadline_s = loop.time() + CANCEL_WAIT_S
    while task.status == CANCELLING and loop.time() < deadline_s:
        await asyncio.sleep(CHECK_S / 5)
        task = await store.sqs_move_task(handle) or task
    return {"ApproximateNumberOfMessagesMoved": task.moved}


def _target_of(message: Message, task: MoveTaskRecord, sources: list[str]) -> tuple[str | None, bytes]:
    meta = orjson.loads(message.attrs or b"{}")
    origin = meta.pop("src", None)
    target = task.destination_arn or origin or (sources[0] if len(sources) == 1 else None)
    return target, orjson.dumps(meta)


class MoveTaskRunner:
    """Moves the tasks of every node's API (one per dispatching process): claims a task no live runner
    holds, moves batch after batch, reports after each (its heartbeat), and stops at COMPLETED, at a
    cancel, or when another runner took the task over."""

    def __init__(self, node: Node):
        self.node = node
        self.owner = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        node.wakeups.listen(MOVE_TASKS, self._wake.set)

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                task = None
                if len(self._running) < RUNNERS:
                    try:  # a token per claim: a run of this process that stalls past the lease loses it too
                        task = await self.node.store.sqs_move_task_claim(f"{self.owner}:{uuid.uuid4().hex}", now_ms(),
                                                                        _stale_before_ms(self.node))
                    except Exception:
                        log.exception("claiming a message move task failed")
                if task is None:
                    await wait_event(self._wake, POLL_S)
                    continue
                runner = asyncio.create_task(self._move_all(task))
                self._running.add(runner)
                runner.add_done_callback(self._running.discard)
        finally:
            for runner in self._running:
                runner.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _move_all(self, task: MoveTaskRecord) -> None:
        moved, status = task.moved, task.status
        try:
            source = await self.node.store.sqs_queue_by_arn(task.source_arn)
            if source is None:
                raise _not_found("SourceArn")
            sources = [r.arn for r in await self.node.store.sqs_queues(source.region)
                       if (qa.redrive_of(r.attrs) or ("", 0))[0] == source.arn]
            while status in (RUNNING, CANCELLING):
                count = 0 if status == CANCELLING else await self._one_batch(task, source, sources)
                moved += count
                status = await self._after_batch(task, moved, drained=count == 0)
        except asyncio.CancelledError:  # this process stops: another runner goes on after the lease
            raise
        except StoreUnavailable:  # the database is away: not the task's fault; a runner goes on after the lease
            log.warning("message move task from %s paused: the store is unavailable", task.source_arn)
        except Exception as err:  # the task fails with the reason, as SQS's do
            log.warning("message move task from %s failed", task.source_arn, exc_info=True)
            with contextlib.suppress(Exception):  # unrecorded: it runs again after the lease, and fails again
                await self._report(task, moved, FAILED, str(getattr(err, "message", err)))

    async def _one_batch(self, task: MoveTaskRecord, source: QueueRecord, sources: list[str]) -> int:
        limit = _BATCH if task.rate is None else min(_BATCH, task.rate)
        batch = await self.node.store.sqs_receive(source.arn, retention_s=int(source.attrs["MessageRetentionPeriod"]),
                                                  redrive=None, limit=limit,
                                                  visibility_ms=int(self.node.settings.lease_s * 1000))
        if batch:
            await _move(self.node, task, batch, sources)
        return len(batch)

    async def _after_batch(self, task: MoveTaskRecord, moved: int, *, drained: bool) -> str:
        """Report (the heartbeat); the status to go on with. An empty receive completes the task once
        nothing is left in flight either (messages a dead runner held come back after their lease)."""
        if (stop := await self._heartbeat(task, moved)) is not None:
            return stop
        if drained:
            if await self._source_empty(task):
                await self._report(task, moved, COMPLETED, None)
                return COMPLETED
            return await self._pause(task, moved, CHECK_S)
        if task.rate is not None:
            return await self._pause(task, moved, min(_BATCH, task.rate) / task.rate)
        return RUNNING

    async def _heartbeat(self, task: MoveTaskRecord, moved: int) -> str | None:
        """Report progress; the status to stop with (another runner holds it, or it was cancelled), or None."""
        stored = await self._report(task, moved, RUNNING, None)
        if stored is None:
            return _LOST
        if stored.status == CANCELLING:
            await self._report(task, moved, CANCELLED, None)
            return CANCELLED
        return None

    async def _source_empty(self, task: MoveTaskRecord) -> bool:
        source = await self.node.store.sqs_queue_by_arn(task.source_arn)
        if source is None:
            return True
        counts = await self.node.store.sqs_counts(source.arn, int(source.attrs["MessageRetentionPeriod"]))
        return counts.visible + counts.delayed + counts.in_flight == 0

    async def _pause(self, task: MoveTaskRecord, moved: int, pause_s: float) -> str:
        """Wait `pause_s` (the rate's gap), looking for a cancel every CHECK_S."""
        loop = asyncio.get_running_loop()
        until_s = loop.time() + pause_s
        while (left_s := until_s - loop.time()) > 0:
            await asyncio.sleep(min(CHECK_S, left_s))
            if (stop := await self._heartbeat(task, moved)) is not None:
                return stop
        return RUNNING

    async def _report(self, task: MoveTaskRecord, moved: int, status: str, failure: str | None) -> MoveTaskRecord | None:
        """As the claim's owner token (`task.owner`)."""
        return await self.node.store.sqs_move_task_report(task.handle, task.owner or "", moved=moved, status=status,
                                                          failure=failure, now_ms=now_ms())


async def _move(node: Node, task: MoveTaskRecord, batch: list[Message], sources: list[str]) -> None:
    by_target: dict[str, list[tuple[Message, bytes]]] = {}
    for message in batch:
        target, attrs = _target_of(message, task, sources)
        if target is None:
            raise errors.invalid_parameter(f"Message {message.id} does not say which queue it came from: "
                                           "give a DestinationArn.")
        by_target.setdefault(target, []).append((message, attrs))
    for target, moving in by_target.items():
        fresh = [NewMessage(kind=KIND, queue=target, id=str(uuid.uuid4()), body=m.body, attrs=attrs)
                 for m, attrs in moving]
        if not await node.store.sqs_send(target, fresh):
            raise _not_found("DestinationArn")
        node.wakeups.notify(sqs_topic(target))
        await node.store.sqs_delete(task.source_arn, [m.id for m, _ in moving])
