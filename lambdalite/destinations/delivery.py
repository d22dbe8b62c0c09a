"""The delivery loop: lease delivery jobs, deliver each to its target, delete on success.

At-least-once: a job is leased, not taken, so a process that dies mid-delivery leaves it to run again
after the lease (a duplicate, never a loss). A failed delivery is retried with doubling delays; after
`delivery_attempts` it is given up: counted (`DestinationDeliveryFailures` / `DeadLetterErrors`) and
logged at WARNING with the whole payload it carried, so nothing vanishes silently.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from lambdalite import metrics
from lambdalite.aio import wait_event
from lambdalite.destinations import arns, dead_letter, eventbridge, lambda_, sqs
from lambdalite.destinations.job import Side, Target
from lambdalite.destinations.record import dead_letter_message, record_bytes
from lambdalite.destinations.targets import DeliveryError, unsupported
from lambdalite.model.event import DELIVERY_KIND
from lambdalite.model.outcome import Outcome
from lambdalite.node import Node
from lambdalite.store.sqlite.queues import Message, now_ms

log = logging.getLogger(__name__)

BATCH_SIZE = 64
POLL_MIN_S = 0.02
POLL_MAX_S = 0.25  # idle poll cap: jobs may come from another process on the same data folder


async def deliver(node: Node, outcome: Outcome, target: Target) -> None:
    """Send one outcome to one target; raises DeliveryError when it did not arrive."""
    if target.side is Side.DEAD_LETTER:
        await dead_letter.deliver(node, outcome, target.arn)
        return
    parsed = arns.parse(target.arn)
    service = parsed.service if parsed is not None else "?"
    if service == "sqs":
        await sqs.deliver(node, outcome, target.arn)
    elif service == "lambda":
        await lambda_.deliver(node, outcome, target.arn)
    elif service == "events":
        await eventbridge.deliver(node, outcome, target.arn)
    else:  # sns, s3: accepted at configuration time, not served by lambdalite yet
        raise unsupported(service, target.arn)


def describe_payload(outcome: Outcome, target: Target) -> str:
    """What the target should have received (for the give-up log line)."""
    if target.side is Side.DEAD_LETTER:
        body, attributes = dead_letter_message(outcome)
        return orjson.dumps({"body": body, "messageAttributes": attributes}).decode()
    return record_bytes(outcome).decode()


class DeliveryLoop:
    def __init__(self, node: Node):
        self.node = node
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        node.wake_listeners.append(self._on_wake)

    def _on_wake(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Run until cancelled."""
        self._loop = asyncio.get_running_loop()
        if self.node.settings.delivery_start_delay_s > 0:
            await asyncio.sleep(self.node.settings.delivery_start_delay_s)
        idle_s = POLL_MIN_S
        while True:
            self._wake.clear()
            try:
                handled = await self.run_once()
            except Exception:  # noqa: BLE001 - keep delivering; the jobs stay leased and come back
                log.exception("delivery loop failed")
                handled = 0
            if handled:
                idle_s = POLL_MIN_S
                continue
            await self._idle(idle_s)
            idle_s = min(idle_s * 2, POLL_MAX_S)

    async def _idle(self, idle_s: float) -> None:
        """Sleep until woken, the next job is due, or the poll interval passed."""
        due_ms = self.node.store.next_due_ms(DELIVERY_KIND)
        if due_ms is not None:
            idle_s = min(idle_s, max(0.0, (due_ms - now_ms()) / 1000))
        if idle_s <= 0:
            return
        await wait_event(self._wake, idle_s)

    async def run_once(self) -> int:
        """Lease due jobs and handle them concurrently; returns how many were leased."""
        lease_ms = int(self.node.settings.lease_s * 1000)
        jobs = await self.node.store.lease_messages(kind=DELIVERY_KIND, lease_ms=lease_ms, limit=BATCH_SIZE)
        if jobs:
            results = await asyncio.gather(*(self.handle(job) for job in jobs), return_exceptions=True)
            for job, result in zip(jobs, results, strict=True):
                if isinstance(result, Exception):  # its lease lapses and it comes back; the rest went on
                    log.error("delivery job %s failed: %r", job.id, result)
        return len(jobs)

    async def handle(self, job: Message) -> None:
        try:
            outcome = Outcome.from_json(job.body)
            target = Target.from_attrs(job.attrs)
        except Exception:  # noqa: BLE001 - a job nobody can read: say so loudly, keep the rest going
            log.error("dropping undecodable delivery job %s: body=%r attrs=%r", job.id, job.body, job.attrs)
            await self.node.store.delete_message(job.id, job.receipt)
            return
        try:
            await deliver(self.node, outcome, target)
        except DeliveryError as err:
            await self._failed(job, outcome, target, str(err), permanent=err.permanent)
        except Exception as err:  # noqa: BLE001 - a target's bug is a failed delivery, retried
            log.exception("delivery of %s to %s raised", job.id, target.arn)
            await self._failed(job, outcome, target, repr(err), permanent=False)
        else:
            await self.node.store.delete_message(job.id, job.receipt)

    async def _failed(self, job: Message, outcome: Outcome, target: Target, reason: str, *, permanent: bool) -> None:
        settings = self.node.settings
        if not permanent and job.receive_count < settings.delivery_attempts:
            delay_s = settings.delivery_retry_base_delay_s * 2 ** (job.receive_count - 1)
            await self.node.store.reschedule_message(job.id, job.receipt, visible_ms=now_ms() + int(delay_s * 1000))
            return
        await self.node.store.delete_message(job.id, job.receipt)
        counter = metrics.DEAD_LETTER_ERRORS if target.side is Side.DEAD_LETTER else metrics.DESTINATION_FAILURES
        counter.labels(function_name=outcome.function).inc()
        log.warning(
            "gave up delivering %s (%s, condition %s) of function %s to %s after %d attempt(s): %s; payload: %s",
            outcome.request_id, target.side.value, outcome.condition.value, outcome.function, target.arn,
            job.receive_count, reason, describe_payload(outcome, target),
        )
