"""The one job loop: every kind of background delivery (destination and DLQ deliveries, EventBridge
rule targets, and whatever a new source queues) is leased, run and retried here.

At-least-once: a job is leased, not taken, so a process that dies mid-delivery leaves it to run again
after the lease (a duplicate, never a loss). A failed delivery is retried after the pure policy's delay
(`policy.job_retry_delay_ms`, with the kind's own limits) or given up: the handler then counts and logs
it with what it carried, so nothing vanishes silently. The loop sleeps until a new job is announced
(`wakeups.JOBS`), the next job is due, or a short fallback poll (jobs queued by other processes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from lambdalite.aio import wait_event
from lambdalite.clock import now_ms
from lambdalite.destinations.targets import DeliveryError
from lambdalite.model.queue import Message
from lambdalite.node import Node
from lambdalite.policy import JobLimits, job_retry_delay_ms
from lambdalite.wakeups import JOBS

log = logging.getLogger(__name__)

BATCH_SIZE = 64  # jobs leased per kind at a time
MAX_IN_FLIGHT = 256  # deliveries running at once in one process
POLL_MIN_S = 0.02
POLL_MAX_S = 0.25  # idle poll cap: jobs may come from another process on the same store


class JobHandler(Protocol):
    """One kind of job: how to deliver it, how long to keep trying, what to say when giving up."""

    kind: str

    def limits(self, job: Message) -> JobLimits: ...

    async def deliver(self, job: Message) -> None:
        """Deliver one job; raise DeliveryError when it did not arrive."""
        ...

    def gave_up(self, job: Message, reason: str) -> None:
        """Count and log a job that will not be tried again."""
        ...


class JobLoop:
    def __init__(self, node: Node, handlers: Sequence[JobHandler]):
        self.node = node
        self.handlers = list(handlers)
        self.lease_ms = int(node.settings.lease_s * 1000)
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        node.wakeups.listen(JOBS, self._wake.set)

    async def run(self) -> None:
        """Run until cancelled. Deliveries run as tasks, up to MAX_IN_FLIGHT at once: the loop leases more as
        soon as there is room, so one slow target (an HTTP endpoint taking its 15 s) holds up only itself."""
        if self.node.settings.delivery_start_delay_s > 0:
            await asyncio.sleep(self.node.settings.delivery_start_delay_s)
        idle_s = POLL_MIN_S
        try:
            while True:
                self._wake.clear()
                if len(self._running) >= MAX_IN_FLIGHT:
                    self._room.clear()
                    await self._room.wait()
                    continue
                try:
                    started = await self._start_due(MAX_IN_FLIGHT - len(self._running))
                except Exception:
                    log.exception("job loop failed")
                    started = 0
                if started:
                    idle_s = POLL_MIN_S
                    continue
                await self._idle(idle_s)
                idle_s = min(idle_s * 2, POLL_MAX_S)
        finally:  # stopping: deliveries cut short run again after their lease (at least once)
            for task in self._running:
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _idle(self, idle_s: float) -> None:
        """Sleep until woken, the next job is due, or the poll interval passed."""
        try:
            for handler in self.handlers:
                due_ms = await self.node.store.next_due_ms(handler.kind)
                if due_ms is not None:
                    idle_s = min(idle_s, max(0.0, (due_ms - now_ms()) / 1000))
        except Exception:  # the store is away (a database restarting): poll again after idle_s
            log.exception("reading the job queue failed")
        if idle_s > 0:
            await wait_event(self._wake, idle_s)

    async def _lease(self, room: int) -> list[tuple[JobHandler, Message]]:
        """Due jobs of every kind, at most `room` (and BATCH_SIZE per kind) in all."""
        leased: list[tuple[JobHandler, Message]] = []
        for handler in self.handlers:
            limit = min(BATCH_SIZE, room - len(leased))
            if limit <= 0:
                break
            leased += [(handler, job) for job in await self.node.store.lease_jobs(handler.kind, self.lease_ms, limit)]
        return leased

    async def _start_due(self, room: int) -> int:
        """Lease due jobs and start each as its own task; how many were started."""
        leased = await self._lease(room)
        for handler, job in leased:
            task = asyncio.create_task(self._handle_logged(handler, job))
            self._running.add(task)
            task.add_done_callback(self._ended)
        return len(leased)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._room.set()

    async def _handle_logged(self, handler: JobHandler, job: Message) -> None:
        try:
            await self.handle(handler, job)
        except Exception as exc:  # noqa: BLE001 - its lease lapses and it comes back; the rest go on
            log.error("job %s failed: %r", job.id, exc)

    async def run_once(self) -> int:
        """Lease due jobs of every kind and handle them to the end; how many were leased (tests drive the
        loop one step at a time with this)."""
        leased = await self._lease(BATCH_SIZE * len(self.handlers))
        await asyncio.gather(*(self._handle_logged(handler, job) for handler, job in leased))
        return len(leased)

    async def handle(self, handler: JobHandler, job: Message) -> None:
        try:
            await handler.deliver(job)
        except DeliveryError as err:
            await self._failed(handler, job, str(err), permanent=err.permanent)
        except Exception as err:
            log.exception("delivery of job %s raised", job.id)
            await self._failed(handler, job, repr(err), permanent=False)
        else:
            await self.node.store.delete_job(job.id, job.receipt)

    async def _failed(self, handler: JobHandler, job: Message, reason: str, *, permanent: bool) -> None:
        age_ms = now_ms() - job.sent_ms
        delay_ms = job_retry_delay_ms(job.receive_count, age_ms, handler.limits(job), permanent=permanent)
        if delay_ms is not None:
            await self.node.store.retry_job(job.id, job.receipt, now_ms() + delay_ms)
            return
        await self.node.store.delete_job(job.id, job.receipt)
        handler.gave_up(job, reason)
