"""StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask: DLQ redrive, as SQS defines it.

The source must be a dead-letter queue of another SQS queue. Each message goes back to the queue it was
dead-lettered from (its DeadLetterQueueSourceArn), or to DestinationArn when given, as a new message with
the same body and attributes; it is deleted from the source once the destination holds it (a crash in
between duplicates, never loses; a cancel waits for the batch in hand). Tasks run in the API process and are kept in its memory (the ten most
recent per source queue, as ListMessageMoveTasks shows): a restart forgets finished tasks and stops running
ones, whose remaining messages stay in the DLQ (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.model.queue import Message, NewMessage
from lambdalite.model.sqs import QueueRecord
from lambdalite.node import Node
from lambdalite.services.sqs import errors
from lambdalite.services.sqs import queue_attributes as qa
from lambdalite.services.sqs.common import KIND, Ctx, Params, integer, string
from lambdalite.wakeups import sqs_topic

log = logging.getLogger(__name__)

Result = dict[str, Any]
MAX_RATE = 500
KEPT_PER_SOURCE = 10
_BATCH = 10
_LEASE_MS = 30_000

RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"


@dataclass
class MoveTask:
    handle: str
    source: QueueRecord
    destination: str | None
    rate: int | None
    to_move: int
    started_ms: int = field(default_factory=now_ms)
    status: str = RUNNING
    moved: int = 0
    failure: str | None = None
    runner: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set by Cancel: ends after the batch in hand

    def entry(self) -> Result:
        out: Result = {"Status": self.status, "SourceArn": self.source.arn,
                       "ApproximateNumberOfMessagesMoved": self.moved,
                       "ApproximateNumberOfMessagesToMove": self.to_move, "StartedTimestamp": self.started_ms}
        if self.status == RUNNING:
            out["TaskHandle"] = self.handle
        if self.destination:
            out["DestinationArn"] = self.destination
        if self.rate is not None:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            out["FailureReason"] = self.failure
        return out


_TASKS: dict[int, dict[str, list[MoveTask]]] = {}  # per Node (one per process): source ARN -> newest first


def _tasks(node: Node) -> dict[str, list[MoveTask]]:
    return _TASKS.setdefault(id(node), {})


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
    kept = _tasks(ctx.node).setdefault(source.arn, [])
    if any(t.status in (RUNNING, CANCELLING) for t in kept):
        raise errors.SqsError("UnsupportedOperation", "There is already a task running. Only one active task is "
                              "allowed for each source queue arn at a given time.")
    counts = await ctx.node.store.sqs_counts(source.arn, int(source.attrs["MessageRetentionPeriod"]))
    handle = base64.b64encode(orjson.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source.arn})).decode()
    task = MoveTask(handle, source, destination, rate, counts.visible + counts.in_flight + counts.delayed)
    kept.insert(0, task)
    del kept[KEPT_PER_SOURCE:]
    task.runner = asyncio.get_running_loop().create_task(_run(ctx.node, task, sources))
    return {"TaskHandle": handle}


async def list_message_move_tasks(ctx: Ctx, params: Params) -> Result:
    source = await _queue(ctx, string(params, "SourceArn", required=True) or "", "SourceArn")
    limit = integer(params, "MaxResults")
    if limit is not None and not 1 <= limit <= KEPT_PER_SOURCE:
        raise errors.invalid_value("MaxResults", limit, f"must be between 1 and {KEPT_PER_SOURCE}.")
    kept = _tasks(ctx.node).get(source.arn, [])
    return {"Results": [t.entry() for t in kept[: limit or 1]]}


async def cancel_message_move_task(ctx: Ctx, params: Params) -> Result:
    handle = string(params, "TaskHandle", required=True)
    task = next((t for kept in _tasks(ctx.node).values() for t in kept if t.handle == handle), None)
    if task is None:
        raise errors.SqsError("ResourceNotFoundException", "Task does not exist.")
    if task.status != RUNNING:
        raise errors.SqsError("UnsupportedOperation", f"Task is in status {task.status}: only a RUNNING task can "
                              "be cancelled.")
    task.status = CANCELLING
    task.stop.set()
    if task.runner is not None:  # a batch being moved finishes first: no message is left in both queues
        await asyncio.shield(task.runner)
    return {"ApproximateNumberOfMessagesMoved": task.moved}


def _target_of(message: Message, task: MoveTask, sources: list[str]) -> tuple[str | None, bytes]:
    meta = orjson.loads(message.attrs or b"{}")
    origin = meta.pop("src", None)
    target = task.destination or origin or (sources[0] if len(sources) == 1 else None)
    return target, orjson.dumps(meta)


async def _run(node: Node, task: MoveTask, sources: list[str]) -> None:
    """Move batch after batch until the source is empty (or the rate's pause between batches)."""
    store, source = node.store, task.source
    retention_s = int(source.attrs["MessageRetentionPeriod"])
    try:
        while not task.stop.is_set():
            limit = _BATCH if task.rate is None else min(_BATCH, task.rate)
            batch = await store.sqs_receive(source.arn, retention_s=retention_s, redrive=None, limit=limit,
                                            visibility_ms=_LEASE_MS)
            if not batch:
                task.status = COMPLETED
                return
            await _move(node, task, batch, sources)
            if task.rate is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(task.stop.wait(), len(batch) / task.rate)
        task.status = CANCELLED
    except asyncio.CancelledError:
        raise
    except Exception as err:
        log.warning("message move task from %s failed", source.arn, exc_info=True)
        task.status, task.failure = FAILED, str(getattr(err, "message", err))


async def _move(node: Node, task: MoveTask, batch: list[Message], sources: list[str]) -> None:
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
        await node.store.sqs_delete(task.source.arn, [m.id for m, _ in moving])
        task.moved += len(moving)
