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
import sqlite3
from collections.abc import Callable

from lambdalite import metrics
from lambdalite.aio import wait_event
from lambdalite.model.event import EVENT_KIND, QueuedEvent, queue_name
from lambdalite.model.outcome import Condition
from lambdalite.node import Node
from lambdalite.policy import Decision, Done, Retry
from lambdalite.store.sqlite import queues, slots
from lambdalite.store.sqlite.queues import Message, now_ms
from lambdalite.worker.attempt import Attempt, Finish, claim_slots

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
        node.wake_listeners.append(self._wake.set)
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
                except Exception:  # noqa: BLE001 - a dispatcher that stops silently strands every event
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
        due_ms = now_ms() if more_due else self._next_due_ms()
        if due_ms is not None and due_ms <= now_ms():
            limit = min(free, LEASE_BATCH)
            leased = await self._lease(limit)
            for message, claim in leased:
                self._start(message, claim)
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

    async def _lease(self, limit: int) -> list[tuple[Message, int | str | None]]:
        """Lease due events and, in the same transaction, claim their concurrency slots."""
        store = self.node.store
        account_limit = self.node.settings.account_concurrency

        def lease(conn: sqlite3.Connection) -> list[tuple[Message, int | str | None]]:
            messages = queues.lease(conn, kind=EVENT_KIND, lease_ms=self.lease_ms, limit=limit)
            claims = claim_slots(conn, messages, holder=store.holder, account_limit=account_limit,
                                 ttl_ms=self.lease_ms)
            return list(zip(messages, claims, strict=True))

        try:
            leased = await store.db.write(lease, durable=False)
        except sqlite3.Error:
            log.exception("leasing events failed")
            return []
        store.hold_slots(claim for _, claim in leased if isinstance(claim, int))
        return leased

    # ---- direct dispatch: events accepted in this process ---------------------------------------------
    def reserve(self) -> bool:
        """Room for one event accepted now? Then it is counted until `adopt` or `unreserve`."""
        if self._stopping or len(self.tasks) + self._adopting >= self.max_running:
            return False
        self._adopting += 1
        return True

    def unreserve(self) -> None:
        self._adopting -= 1

    def lease_new(self, conn: sqlite3.Connection, event: QueuedEvent, payload: bytes,
                  receipt: str) -> tuple[Message, int | str | None]:
        """Inside the accept's transaction: queue the event already leased by this dispatcher, with its
        concurrency slot claimed, as `_lease` would have. It saves the lease's own write and wake-up."""
        store = self.node.store
        message = queues.send_leased(conn, kind=EVENT_KIND, queue=queue_name(event.function), id=event.request_id,
                                     body=payload, attrs=event.to_attrs(), at_ms=event.accepted_ms,
                                     lease_ms=self.lease_ms, receipt=receipt)
        (claim,) = claim_slots(conn, [message], holder=store.holder,
                               account_limit=self.node.settings.account_concurrency, ttl_ms=self.lease_ms)
        return message, claim

    def adopt(self, message: Message, claim: int | str | None) -> None:
        """After the accept committed: run the event leased by `lease_new`. If this process dies first,
        the lease lapses and any dispatcher runs it."""
        self._adopting -= 1
        if isinstance(claim, int):
            self.node.store.hold_slots([claim])
        self._start(message, claim)

    def _next_due_ms(self) -> int | None:
        try:
            return self.node.store.next_due_ms(EVENT_KIND)
        except sqlite3.Error:
            log.exception("reading the event queue failed")
            return None

    async def _sleep(self, timeout_s: float) -> None:
        """Until woken (a new local event, a task ended) or the timeout (polls for other processes' work)."""
        await wait_event(self._wake, timeout_s)
        self._wake.clear()

    def _start(self, message: Message, claim: int | str | None) -> None:
        self.held[message.id] = message.receipt or ""
        task = asyncio.create_task(self._handle(message, claim))
        self.tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if self._full:  # otherwise the loop is not waiting for room: no queue read per finished event
            self._wake.set()

    async def _handle(self, message: Message, claim: int | str | None) -> None:
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
        except Exception:  # noqa: BLE001 - the lease lapses and the event runs again
            log.exception("event %s failed in the dispatcher; it will run again when its lease ends", message.id)
            if finish is not None and finish.slot_id is not None:
                with contextlib.suppress(Exception):
                    await self.node.store.release_slot(finish.slot_id)
        finally:
            if self.held.get(message.id) == (message.receipt or ""):  # not re-leased here meanwhile
                del self.held[message.id]

    async def _discard(self, message: Message, claim: int | str | None) -> None:
        """An event whose stored state cannot be read can never run: drop it (logged), free its slot."""
        log.error("event %s has unreadable state %r: dropped", message.id, message.attrs)

        def discard(conn: sqlite3.Connection) -> None:
            queues.delete(conn, message.id, message.receipt)
            if isinstance(claim, int):
                slots.release(conn, claim)

        if isinstance(claim, int):
            self.node.store.drop_slot(claim)
        await self.node.store.db.write(discard, durable=False)

    async def _commit(self, message: Message, finish: Finish) -> None:
        """One write: retry (reschedule) or end (delete + outcome + deliveries), and free the slot."""
        decision = finish.decision
        if finish.slot_id is not None:
            self.node.store.drop_slot(finish.slot_id)  # released by _apply's write (or lapses if it fails)
        held = await self.node.store.db.write(lambda c: _apply(c, message, finish), durable=False)
        if not held:
            log.info("event %s: lease lost before its result was committed (another run owns it)", message.id)
            return
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
                await self.node.store.db.write(_renewal(held, now_ms() + self.lease_ms), durable=False)
            except Exception:  # noqa: BLE001 - keep renewing: a dead renewer would run long events twice
                log.exception("renewing leases failed")


def _apply(conn: sqlite3.Connection, message: Message, finish: Finish) -> bool:
    """The write after an attempt; False when the lease was lost (another dispatcher owns the event)."""
    if finish.slot_id is not None:
        slots.release(conn, finish.slot_id)
    decision: Decision = finish.decision
    if isinstance(decision, Retry):
        return queues.reschedule(
            conn, message.id, message.receipt, visible_ms=decision.at_ms, attrs=decision.event.to_attrs()
        )
    if not queues.delete(conn, message.id, message.receipt):
        return False
    if finish.outcome is not None:
        from lambdalite.destinations import seam
        from lambdalite.store.sqlite import outcomes

        outcomes.record(conn, finish.outcome)
        seam.enqueue_deliveries(
            conn,
            finish.outcome,
            on_success=finish.on_success,
            on_failure=finish.on_failure,
            dead_letter=finish.dead_letter,
        )
    return True


def _renewal(held: list[tuple[str, str]], visible_ms: int) -> Callable[[sqlite3.Connection], int]:
    return lambda conn: queues.renew(conn, held, visible_ms)
