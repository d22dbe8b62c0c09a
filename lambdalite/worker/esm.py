"""SQS event source mapping pollers, in the dispatcher role (`serve`, `worker`).

`MappingPollers` keeps one `Poller` per enabled mapping (refreshed on `wakeups.MAPPINGS`, and every
REFRESH_S for other processes' changes). A poller waits for a due message of its queue (woken by
`sqs_topic(arn)`, with a SLOW_POLL_S fallback for other processes' sends), gathers a batch through the
one queue engine (`sqs_receive`: the queue's visibility timeout, retention and redrive), and runs it as a
task, up to ScalingConfig.MaximumConcurrency batches at once (a slot named `esm:UUID` holds that limit
across processes; the function's own slot is taken per invocation). It re-reads its mapping before every
batch, so a disable or delete stops delivery at once; a batch already running finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from lambdalite.aio import wait_event
from lambdalite.clock import now_ms
from lambdalite.model.esm import EventSourceMapping
from lambdalite.model.queue import Message
from lambdalite.model.sqs import QueueRecord, redrive_of
from lambdalite.node import Node
from lambdalite.wakeups import MAPPINGS, sqs_topic
from lambdalite.worker.esm_batch import Batch

log = logging.getLogger(__name__)

REFRESH_S = 1.0
SLOW_POLL_S = 0.5
ERROR_PAUSE_S = 1.0
EMPTY_PAUSE_S = 0.02
RECEIVE_BATCHES = 10  # batches one receive may fill (no batching window)


class MappingPollers:
    def __init__(self, node: Node):
        self.node = node
        self.pollers: dict[str, asyncio.Task[None]] = {}
        self.batches: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        node.wakeups.listen(MAPPINGS, self._wake.set)

    async def run(self) -> None:
        """Run until cancelled; then running batches are cancelled too (their messages come back)."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self._refresh()
                except Exception:
                    log.exception("reading event source mappings failed")
                await wait_event(self._wake, REFRESH_S)
        finally:
            tasks = [*self.pollers.values(), *self.batches]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _refresh(self) -> None:
        for uuid in [u for u, task in self.pollers.items() if task.done()]:
            del self.pollers[uuid]
        for m in await self.node.store.esm_list():
            if m.polling and m.uuid not in self.pollers:
                poller = Poller(self.node, m.uuid, self.batches)
                self.pollers[m.uuid] = asyncio.create_task(poller.run(), name=f"esm-{m.uuid}")


class Poller:
    """One mapping's polling loop; it ends when the mapping is disabled, deleted or gone."""

    def __init__(self, node: Node, uuid: str, batches: set[asyncio.Task[None]]):
        self.node = node
        self.uuid = uuid
        self.all_batches = batches
        self.running: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                m = await self.node.store.esm_get(self.uuid)
                if m is None or not m.polling:
                    return
                await self._turn(m)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mapping %s: polling failed; retrying in %.1f s", self.uuid, ERROR_PAUSE_S)
                await asyncio.sleep(ERROR_PAUSE_S)

    async def _turn(self, m: EventSourceMapping) -> None:
        limit = m.max_concurrency or self.node.settings.dispatch_concurrency
        if len(self.running) >= limit:
            self._room.clear()
            await wait_event(self._room, SLOW_POLL_S)
            return
        queue = await self.node.store.sqs_queue_by_arn(m.source_arn)
        topic = sqs_topic(m.source_arn)
        arrival = self.node.wakeups.arrival(topic)  # taken before looking: an arrival meanwhile is not missed
        due_ms = await self.node.store.sqs_next_due_ms(m.source_arn) if queue is not None else None
        if queue is None or due_ms is None or due_ms > now_ms():
            wait_s = SLOW_POLL_S if due_ms is None else min(SLOW_POLL_S, max(0.0, (due_ms - now_ms()) / 1000))
            await wait_event(arrival, wait_s)
            return
        # Without a batching window, one receive fills several batches (run side by side), so a small
        # BatchSize is not held to one receive commit per batch.
        wanted = 1 if m.window_s else min(limit - len(self.running), RECEIVE_BATCHES)
        slots = await self._mapping_slots(m, wanted)
        if not slots:
            await asyncio.sleep(SLOW_POLL_S)  # other processes run this mapping's maximum already
            return
        messages = await self._gather(m, queue, m.batch_size * len(slots))
        visibility_s = int(queue.attrs.get("VisibilityTimeout", "30"))
        chunks = [messages[i:i + m.batch_size] for i in range(0, len(messages), m.batch_size)]
        for chunk, slot in zip(chunks, slots, strict=False):
            self._start(Batch(self.node, m, chunk, visibility_s), slot)
        for slot in slots[len(chunks):]:
            await self._release(slot)
        if not messages:  # another poller took them: look again soon, never in a tight loop
            await asyncio.sleep(EMPTY_PAUSE_S)

    async def _mapping_slots(self, m: EventSourceMapping, wanted: int) -> list[int | None]:
        """With MaximumConcurrency, up to `wanted` slots `esm:UUID` (fewer when taken); else no limit."""
        if m.max_concurrency is None:
            return [None] * wanted
        slots: list[int | None] = []
        while len(slots) < wanted:
            slot = await self.node.store.acquire_slot(f"esm:{m.uuid}", m.max_concurrency)
            if not isinstance(slot, int):
                break
            slots.append(slot)
        return slots

    async def _release(self, slot: int | None) -> None:
        if slot is not None:
            with contextlib.suppress(Exception):
                await self.node.store.release_slot(slot)

    async def _gather(self, m: EventSourceMapping, queue: QueueRecord, limit: int) -> list[Message]:
        """Up to `limit` messages, received for up to the batching window once the first arrived."""
        store, topic = self.node.store, sqs_topic(m.source_arn)
        retention_s = int(queue.attrs.get("MessageRetentionPeriod", "345600"))
        visibility_ms = int(queue.attrs.get("VisibilityTimeout", "30")) * 1000
        redrive = redrive_of(queue.attrs)
        deadline = time.monotonic() + m.window_s
        got: list[Message] = []
        while True:
            arrival = self.node.wakeups.arrival(topic)
            got += await store.sqs_receive(m.source_arn, retention_s=retention_s, redrive=redrive,
                                           limit=limit - len(got), visibility_ms=visibility_ms)
            left_s = deadline - time.monotonic()
            if not got or len(got) >= limit or left_s <= 0 or _bytes(got) >= _BATCH_BYTES:
                return got
            await wait_event(arrival, min(left_s, SLOW_POLL_S))

    def _start(self, batch: Batch, mapping_slot: int | None) -> None:
        async def run() -> None:
            try:
                await batch.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mapping %s: a batch failed inside lambdalite; its messages come back", self.uuid)
            finally:
                await self._release(mapping_slot)

        task = asyncio.create_task(run())
        self.running.add(task)
        self.all_batches.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self.all_batches.discard(task)
        self._room.set()


_BATCH_BYTES = 6_291_456


def _bytes(messages: list[Message]) -> int:
    return sum(len(m.body) for m in messages)
