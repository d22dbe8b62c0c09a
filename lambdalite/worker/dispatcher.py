"""The dispatcher: lease -> check age & concurrency -> run -> decide -> ack/retry -> deliver.

One asyncio loop leases due events in batches and runs each in its own task (bounded). A leased event
is invisible to other dispatchers until its lease ends; `_renew_forever` extends the leases of running
events in one write, so a dispatcher that dies stops renewing and its events run again elsewhere.
After an attempt, one write either reschedules the event (the retry is committed before the lease is
released) or deletes it, records its outcome and queues its deliveries: a crash duplicates, never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from lambdalite import metrics
from lambdalite.aio import wait_event
from lambdalite.clock import now_ms
from lambdalite.destinations.seam import delivery_jobs
from lambdalite.model.event import EVENT_KIND, QueuedEvent
from lambdalite.model.outcome import Condition
from lambdalite.model.queue import AttemptEnd, Claim, Leased, Message
from lambdalite.node import Node
from lambdalite.policy import Done, Retry
from lambdalite.wakeups import EVENTS, JOBS
from lambdalite.worker.attempt import Attempt, Finish, attempt_record

log = logging.getLogger(__name__)

LEASE_BATCH = 32
MIN_POLL_S = 0.005
MAX_POLL_S = 0.1
ERROR_PAUSE_S = 1.0


class Dispatcher:
    def __init__(self, node: Node, max_running: int | None = None):
        self.node = node
        self.max_running: int = max_running or node.settings.dispatch_concurrency
        self.lease_ms = int(node.settings.lease_s * 1000)
        self.held: dict[str, str] = {}  # message id -> receipt of the events running here
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._full = False  # the loop sleeps until a running event ends and makes room
        self._adopting = 0  # accepted events being committed, already counted against max_running
        node.wakeups.listen(EVENTS, self._wake.set)
        node.dispatcher = self

    async def run(self) -> None:
        """Run until cancelled."""
        renewer = asyncio.create_task(self._renew_forever(), name="lease-renewer")
        poll_s = MIN_POLL_S
        more_due = False  # the last lease was full: lease again without asking what is due
        # Lease in batches: with every slot busy, one lease per finished event would make the
        # lease commit, not the functions, the pace of the whole dispatcher.
        min_batch = max(1, min(self.max_running, LEASE_BATCH) // 4)
        try:
            while True:
                try:
                    more_due, poll_s = await self._step(min_batch, more_due, poll_s)
                except Exception:
                    log.exception("dispatcher step failed; retrying in %.1f s", ERROR_PAUSE_S)
                    more_due = False
                    await asyncio.sleep(ERROR_PAUSE_S)
        finally:
            self._stopping = True
            held = list(self.held.items())
            renewer.cancel()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(renewer, *self.tasks, return_exceptions=True)
            await self._hand_back(held)

    async def _step(self, min_batch: int, more_due: bool, poll_s: float) -> tuple[bool, float]:
        """One turn: lease and start what is due, or sleep until woken / the next due time / a poll."""
        free = self.max_running - len(self.tasks) - self._adopting
        if free <= 0 or (free < min_batch and self.tasks):
            self._full = True  # a task ending wakes us
            try:
                await self._sleep(MAX_POLL_S)
            finally:
                self._full = False
            return more_due, poll_s
        due_ms = now_ms() if more_due else await self._next_due_ms()
        if due_ms is not None and due_ms <= now_ms():
            limit = min(free, LEASE_BATCH)
            leased = await self._lease(limit)
            for one in leased:
                self._start(one.message, one.claim)
            if leased:
                return len(leased) == limit, MIN_POLL_S
            due_ms = None  # taken by another dispatcher: poll
        timeout_s = poll_s if due_ms is None else min(poll_s, (due_ms - now_ms()) / 1000)
        await self._sleep(timeout_s)
        return False, min(MAX_POLL_S, poll_s * 2)

    async def _hand_back(self, held: list[tuple[str, str]]) -> None:
        """On shutdown, make the events this dispatcher still held due now, so another dispatcher runs
        them at once instead of after their lease (a receipt that moved on changes nothing)."""
        if not held:
            return
        try:
            await self.node.store.renew_leases(held, now_ms())
        except Exception:  # noqa: BLE001 - their leases lapse instead
            log.warning("could not hand back %d leased event(s); they run again when their leases end", len(held))

    async def _lease(self, limit: int) -> list[Leased]:
        """Lease due events with their concurrency slots (one store operation)."""
        try:
            return await self.node.store.lease_events(limit, self.lease_ms)
        except Exception:
            log.exception("leasing events failed")
            return []

    # ---- direct dispatch: events accepted in this process ---------------------------------------------
    def reserve(self) -> bool:
        """Room for one event accepted now? Then it is counted until `adopt` or `unreserve`."""
        if self._stopping or len(self.tasks) + self._adopting >= self.max_running:
            return False
        self._adopting += 1
        return True

    def unreserve(self) -> None:
        self._adopting -= 1

    def adopt(self, leased: Leased) -> None:
        """After the accept committed: run the event queued already leased to this dispatcher. If this
        process dies first, the lease lapses and any dispatcher runs it."""
        self._adopting -= 1
        self._start(leased.message, leased.claim)

    async def _next_due_ms(self) -> int | None:
        try:
            return await self.node.store.next_due_ms(EVENT_KIND)
        except Exception:
            log.exception("reading the event queue failed")
            return None

    async def _sleep(self, timeout_s: float) -> None:
        """Until woken (a new local event, a task ended) or the timeout (polls for other processes' work)."""
        await wait_event(self._wake, timeout_s)
        self._wake.clear()

    def _start(self, message: Message, claim: Claim) -> None:
        self.held[message.id] = message.receipt or ""
        task = asyncio.create_task(self._handle(message, claim))
        self.tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if self._full:  # otherwise the loop is not waiting for room: no queue read per finished event
            self._wake.set()

    async def _handle(self, message: Message, claim: Claim) -> None:
        finish: Finish | None = None
        try:
            try:
                event = QueuedEvent.from_attrs(message.attrs or b"{}")
            except (ValueError, TypeError):
                await self._discard(message, claim)
                return
            finish = await Attempt(self.node, message, event, claim).run()
            await self._commit(message, finish)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event %s failed in the dispatcher; it will run again when its lease ends", message.id)
            if finish is not None and finish.slot_id is not None:
                with contextlib.suppress(Exception):
                    await self.node.store.release_slot(finish.slot_id)
        finally:
            if self.held.get(message.id) == (message.receipt or ""):  # not re-leased here meanwhile
                del self.held[message.id]

    async def _discard(self, message: Message, claim: Claim) -> None:
        """An event whose stored state cannot be read can never run: drop it (logged), free its slot."""
        log.error("event %s has unreadable state %r: dropped", message.id, message.attrs)
        await self.node.store.discard_event(message, claim if isinstance(claim, int) else None)

    async def _commit(self, message: Message, finish: Finish) -> None:
        """One write: retry (reschedule) or end (delete + outcome + deliveries), and free the slot."""
        decision = finish.decision
        end = _end_of(message, finish)
        if not await self.node.store.finish_attempt(message, end):
            log.info("event %s: lease lost before its result was committed (another run owns it)", message.id)
            return
        if end.jobs:
            self.node.wakeups.notify(JOBS)  # its deliveries start now, not at the job loop's next poll
        if isinstance(decision, Done) and decision.condition is not Condition.SUCCESS:
            metrics.ASYNC_DROPPED.labels(finish.event.function).inc()
            log.info(
                "event %s of %s ended: %s after %d attempt(s)",
                message.id, finish.event.function, decision.condition.value, decision.approximate_invoke_count,
            )

    async def _renew_forever(self) -> None:
        period_s = max(0.05, self.node.settings.lease_s / 3)
        while True:
            await asyncio.sleep(period_s)
            held = list(self.held.items())
            if not held:
                continue
            try:
                await self.node.store.renew_leases(held, now_ms() + self.lease_ms)
            except Exception:
                log.exception("renewing leases failed")


def _end_of(message: Message, finish: Finish) -> AttemptEnd:
    """What the store commits for one attempt's decision (with its row of the event history)."""
    decision = finish.decision
    record = attempt_record(message, finish)
    if isinstance(decision, Retry):
        return AttemptEnd(finish.slot_id, retry_at_ms=decision.at_ms, event_attrs=decision.event.to_attrs(),
                          record=record)
    if finish.outcome is None:
        return AttemptEnd(finish.slot_id, record=record)
    jobs = delivery_jobs(finish.outcome, on_success=finish.on_success, on_failure=finish.on_failure,
                         dead_letter=finish.dead_letter)
    return AttemptEnd(finish.slot_id, outcome=finish.outcome, jobs=jobs, record=record)
