"""The async event queue's units of work (Store protocol): accept, lease with concurrency slots, finish
an attempt atomically, discard, renew and hand back leases, due times and the `lambdalite queue` report.

Every backend must pass these: the dispatcher relies on each operation being one transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from lambdalite.clock import now_ms
from lambdalite.destinations.seam import delivery_jobs
from lambdalite.model.event import DELIVERY_KIND, EVENT_KIND, QueuedEvent, queue_name
from lambdalite.model.outcome import Condition
from lambdalite.model.queue import AttemptEnd, Leased
from lambdalite.store.protocol import Store
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.records import create_function, outcome, queue_arn, queued_event, slot_of

LEASE_MS = 30_000
# The contract's 429 Reasons: why a slot was refused.
FUNCTION_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
DEST = queue_arn("dest")


async def counts(store: Store) -> dict[str, tuple[int, int, int]]:
    """(queued, in flight, delayed) per function with anything in its queue."""
    rows = await store.queue_report(now_ms())
    return {r.function: (r.queued, r.in_flight, r.delayed) for r in rows if r.queued or r.in_flight or r.delayed}


async def lease_one(store: Store, function: str, *, reserved: int | None = None,
                    payload: bytes = b"{}") -> tuple[QueuedEvent, Leased]:
    await create_function(store, function, reserved=reserved)
    event = queued_event(function)
    await store.accept_event(event, payload)
    [leased] = await store.lease_events(10, LEASE_MS)
    return event, leased


# ---- accept -------------------------------------------------------------------------------------------


async def test_an_accepted_event_is_due_at_once_and_leased_with_its_payload_state_and_slot(store: Store) -> None:
    await create_function(store, "f")
    event = queued_event("f", trace_id="Root=1-abc", hops=3)
    assert await store.accept_event(event, b'{"x": 1}') is None
    assert await store.next_due_ms(EVENT_KIND) == event.accepted_ms
    assert await counts(store) == {"f": (1, 0, 0)}

    [leased] = await store.lease_events(10, LEASE_MS)
    message = leased.message
    assert (message.id, message.kind, message.queue, message.body) == (
        event.request_id, EVENT_KIND, queue_name("f"), b'{"x": 1}')
    assert QueuedEvent.from_attrs(message.attrs or b"") == event
    assert message.receive_count == 1 and message.receipt
    assert isinstance(leased.claim, int)
    assert await store.lease_events(10, LEASE_MS) == []  # invisible while leased
    assert await counts(store) == {"f": (0, 1, 0)}


async def test_accept_leased_queues_the_event_already_leased_to_this_process_with_its_slot(store: Store) -> None:
    """Direct dispatch: the accepting process runs the event; nobody else may lease it meanwhile."""
    await create_function(store, "f", reserved=1)
    event = queued_event("f")
    leased = await store.accept_event(event, b"p", lease_ms=LEASE_MS, receipt="receipt-1")
    assert leased is not None
    message = leased.message
    assert (message.id, message.body, message.receipt) == (event.request_id, b"p", "receipt-1")
    assert message.receive_count == 1 and message.visible_ms == event.accepted_ms + LEASE_MS
    assert QueuedEvent.from_attrs(message.attrs or b"") == event
    assert isinstance(leased.claim, int)
    assert await store.lease_events(10, LEASE_MS) == []
    assert await counts(store) == {"f": (0, 1, 0)}
    assert await store.acquire_slot("f", 1) == FUNCTION_LIMIT  # the claimed slot counts
    # The lease is an ordinary one: the receipt it was accepted with finishes it.
    assert await store.finish_attempt(message, AttemptEnd(slot_of(leased.claim), outcome=outcome(event)))
    assert await counts(store) == {}
    assert isinstance(await store.acquire_slot("f", 1), int)


async def test_accept_leased_claims_no_slot_when_none_is_free_or_the_function_cannot_run(store: Store) -> None:
    await create_function(store, "full", reserved=1)
    await create_function(store, "zero", reserved=0)
    assert isinstance(await store.acquire_slot("full", 1), int)
    full = await store.accept_event(queued_event("full"), b"{}", lease_ms=LEASE_MS, receipt="r1")
    zero = await store.accept_event(queued_event("zero"), b"{}", lease_ms=LEASE_MS, receipt="r2")
    ghost = await store.accept_event(queued_event("ghost"), b"{}", lease_ms=LEASE_MS, receipt="r3")
    assert full is not None and full.claim == FUNCTION_LIMIT
    assert zero is not None and zero.claim is None
    assert ghost is not None and ghost.claim is None


# ---- lease with concurrency slots ---------------------------------------------------------------------


async def test_a_lease_claims_slots_within_reserved_concurrency(store: Store) -> None:
    await create_function(store, "r", reserved=2)
    for _ in range(3):
        await store.accept_event(queued_event("r"), b"{}")
    leased = await store.lease_events(10, LEASE_MS)
    claims = [x.claim for x in leased]
    assert len(leased) == 3
    assert sum(isinstance(c, int) for c in claims) == 2 and claims.count(FUNCTION_LIMIT) == 1
    assert len({c for c in claims if isinstance(c, int)}) == 2  # two distinct slots


async def test_unreserved_functions_share_the_account_limit_less_every_reservation(backend: Backend) -> None:
    store = backend.open(account_concurrency=3)
    await create_function(store, "r", reserved=1)
    await create_function(store, "a")
    for _ in range(3):
        await store.accept_event(queued_event("a"), b"{}")
    await store.accept_event(queued_event("r"), b"{}")
    leased = await store.lease_events(10, LEASE_MS)
    claims = {x.message.id: x.claim for x in leased}
    of_a = [x.claim for x in leased if x.message.queue == queue_name("a")]
    of_r = [x.claim for x in leased if x.message.queue == queue_name("r")]
    assert len(claims) == 4
    assert sum(isinstance(c, int) for c in of_a) == 2 and of_a.count(ACCOUNT_LIMIT) == 1
    assert len(of_r) == 1 and isinstance(of_r[0], int)  # the reservation is untouched


async def test_zero_reserved_and_missing_functions_are_leased_without_a_claim(store: Store) -> None:
    """The attempt decides those (ZeroReservedConcurrency outcome, or dropped)."""
    await create_function(store, "zero", reserved=0)
    await store.accept_event(queued_event("zero"), b"{}")
    await store.accept_event(queued_event("ghost"), b"{}")
    leased = await store.lease_events(10, LEASE_MS)
    assert len(leased) == 2 and [x.claim for x in leased] == [None, None]


async def test_a_lease_takes_at_most_limit_due_events(store: Store) -> None:
    await create_function(store, "f")
    for _ in range(5):
        await store.accept_event(queued_event("f"), b"{}")
    assert len(await store.lease_events(2, LEASE_MS)) == 2
    assert len(await store.lease_events(10, LEASE_MS)) == 3
    assert await store.lease_events(10, LEASE_MS) == []


# ---- finish an attempt --------------------------------------------------------------------------------


async def test_a_retry_reschedules_the_event_with_its_new_state_and_frees_the_slot(store: Store) -> None:
    event, leased = await lease_one(store, "f", reserved=1)
    assert isinstance(leased.claim, int)
    retry_at = now_ms() + 60_000
    state = replace(event, attempts=1, retries_used=1)
    end = AttemptEnd(slot_of(leased.claim), retry_at_ms=retry_at, event_attrs=state.to_attrs())
    assert await store.finish_attempt(leased.message, end)
    assert await store.next_due_ms(EVENT_KIND) == retry_at
    assert await counts(store) == {"f": (0, 0, 1)}  # delayed, no longer in flight
    assert await store.lease_events(10, LEASE_MS) == []
    assert await store.get_outcome(event.request_id) is None
    assert isinstance(await store.acquire_slot("f", 1), int)


async def test_a_retry_due_now_is_leased_again_with_the_state_it_was_rescheduled_with(store: Store) -> None:
    event, leased = await lease_one(store, "f", payload=b"payload")
    state = replace(event, attempts=1, backoffs=2)
    assert await store.finish_attempt(leased.message, AttemptEnd(None, retry_at_ms=now_ms(),
                                                                 event_attrs=state.to_attrs()))
    [again] = await store.lease_events(10, LEASE_MS)
    assert again.message.id == event.request_id and again.message.body == b"payload"
    assert QueuedEvent.from_attrs(again.message.attrs or b"") == state
    assert again.message.receive_count == 2 and again.message.receipt != leased.message.receipt


async def test_done_deletes_the_event_records_its_outcome_and_queues_its_jobs_together(store: Store) -> None:
    event, leased = await lease_one(store, "f", reserved=1)
    ended = outcome(event, Condition.RETRIES_EXHAUSTED)
    jobs = delivery_jobs(ended, on_success=None, on_failure=DEST, dead_letter=DEST)
    assert await store.finish_attempt(leased.message, AttemptEnd(slot_of(leased.claim), outcome=ended, jobs=jobs))
    assert await store.get_outcome(event.request_id) == ended
    assert await counts(store) == {}
    assert await store.next_due_ms(EVENT_KIND) is None
    queued = await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10)
    assert sorted((j.id, j.queue, j.body, j.attrs) for j in queued) == sorted(
        (j.id, j.queue, j.body, j.attrs) for j in jobs)
    assert isinstance(await store.acquire_slot("f", 1), int)


async def test_done_without_an_outcome_only_deletes_the_event(store: Store) -> None:
    event, leased = await lease_one(store, "f")
    assert await store.finish_attempt(leased.message, AttemptEnd(slot_of(leased.claim)))
    assert await counts(store) == {}
    assert await store.get_outcome(event.request_id) is None
    assert await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10) == []


async def test_a_finish_after_the_lease_was_lost_changes_nothing_but_the_slot(backend: Backend) -> None:
    """Another process took the event after its lease lapsed: the late finish must neither delete the
    event nor record an outcome nor queue deliveries (the new holder will), yet it frees its slot."""
    mine, theirs = backend.open(), backend.open()
    await create_function(mine, "f", reserved=2)
    event = queued_event("f")
    await mine.accept_event(event, b"{}")
    [first] = await mine.lease_events(1, 1)  # a lease that lapses at once
    if isinstance(first.claim, int):  # its slot lapses with it, but a millisecond apart: free it now
        await mine.release_slot(first.claim)
    slot = await mine.acquire_slot("f", 2)  # the slot this attempt runs under (lives lease_s)
    assert isinstance(slot, int)
    [second] = await wait_for(lambda: theirs.lease_events(1, LEASE_MS), what="the lapsed lease taken over")
    assert second.message.id == event.request_id and isinstance(second.claim, int)
    assert await mine.acquire_slot("f", 2) == FUNCTION_LIMIT  # both slots are live

    ended = outcome(event)
    jobs = delivery_jobs(ended, on_success=DEST, on_failure=None, dead_letter=None)
    assert not await mine.finish_attempt(first.message, AttemptEnd(slot, outcome=ended, jobs=jobs))
    assert await mine.get_outcome(event.request_id) is None
    assert await mine.lease_jobs(DELIVERY_KIND, LEASE_MS, 10) == []
    assert await counts(mine) == {"f": (0, 1, 0)}
    retry = AttemptEnd(None, retry_at_ms=now_ms() + 60_000, event_attrs=event.to_attrs())
    assert not await mine.finish_attempt(first.message, retry)
    assert await counts(mine) == {"f": (0, 1, 0)}  # still theirs, not rescheduled
    assert isinstance(await mine.acquire_slot("f", 2), int)  # my slot was released

    assert await theirs.finish_attempt(second.message, AttemptEnd(slot_of(second.claim), outcome=ended, jobs=jobs))
    assert await mine.get_outcome(event.request_id) == ended


async def test_ends_committed_together_each_get_their_own_answer(store: Store) -> None:
    """Many attempts ending at once (a busy worker; PostgreSQL commits them in one transaction): retries,
    ends with deliveries and a stale receipt among them, each decided on its own."""
    await create_function(store, "f")
    events = [queued_event("f") for _ in range(30)]
    for event in events:
        await store.accept_event(event, b"{}")
    leased = {x.message.id: x for x in await store.lease_events(30, LEASE_MS)}
    assert len(leased) == 30
    ends = []
    for i, event in enumerate(events):
        claim = slot_of(leased[event.request_id].claim)
        if i % 3 == 0:
            ends.append(AttemptEnd(claim, retry_at_ms=now_ms() + 60_000, event_attrs=event.to_attrs()))
        else:
            ended = outcome(event)
            ends.append(AttemptEnd(claim, outcome=ended,
                                   jobs=delivery_jobs(ended, on_success=DEST, on_failure=None, dead_letter=None)))
    messages = [leased[e.request_id].message for e in events]
    messages[1] = replace(messages[1], receipt="0" * 20)  # its lease was lost: nothing but the slot changes
    answers = await asyncio.gather(*(store.finish_attempt(m, end) for m, end in zip(messages, ends, strict=True)))
    assert answers == [i != 1 for i in range(30)]
    assert await counts(store) == {"f": (0, 1, 10)}
    for i, event in enumerate(events):
        assert (await store.get_outcome(event.request_id) is not None) == (i % 3 != 0 and i != 1)
    jobs = await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 100)
    assert len(jobs) == 19
    for _ in range(30):  # every slot was freed, the lost lease's too
        assert isinstance(await store.acquire_slot("f", 30), int)


# ---- discard, renew, hand back, due times ---------------------------------------------------------------


async def test_discard_drops_the_event_and_frees_its_slot_without_an_outcome(store: Store) -> None:
    event, leased = await lease_one(store, "f", reserved=1)
    assert isinstance(leased.claim, int)
    await store.discard_event(leased.message, leased.claim)
    assert await counts(store) == {}
    assert await store.next_due_ms(EVENT_KIND) is None
    assert await store.get_outcome(event.request_id) is None
    assert isinstance(await store.acquire_slot("f", 1), int)


async def test_renew_extends_only_leases_whose_receipt_is_current(store: Store) -> None:
    await create_function(store, "f")
    for request_id in ("a", "b"):
        await store.accept_event(queued_event("f", request_id=request_id), b"{}")
    held = {x.message.id: x.message.receipt or "" for x in await store.lease_events(10, 1)}
    assert set(held) == {"a", "b"}
    assert await store.renew_leases([("a", held["a"]), ("b", "stale-receipt")], now_ms() + 60_000) == 1
    back = await wait_for(lambda: store.lease_events(10, LEASE_MS), what="the unrenewed lease to lapse")
    assert [x.message.id for x in back] == ["b"]


async def test_handing_a_lease_back_makes_the_event_due_at_once(backend: Backend) -> None:
    """A dispatcher shutting down renews its leases to now: another process runs them without waiting."""
    mine, theirs = backend.open(), backend.open()
    event, leased = await lease_one(mine, "f")
    assert await theirs.lease_events(10, LEASE_MS) == []
    assert await mine.renew_leases([(event.request_id, leased.message.receipt or "")], now_ms()) == 1
    [again] = await theirs.lease_events(10, LEASE_MS)
    assert again.message.id == event.request_id and again.message.receive_count == 2


async def test_next_due_is_the_earliest_due_time_of_a_kind(store: Store) -> None:
    assert await store.next_due_ms(EVENT_KIND) is None
    await create_function(store, "f")
    now = now_ms()
    await store.accept_event(queued_event("f", accepted_ms=now + 5_000), b"{}")
    await store.accept_event(queued_event("f", accepted_ms=now + 1_000), b"{}")
    assert await store.next_due_ms(EVENT_KIND) == now + 1_000
    assert await store.next_due_ms(DELIVERY_KIND) is None


async def test_the_queue_report_counts_queued_in_flight_and_delayed_per_function(store: Store) -> None:
    await create_function(store, "f")
    await create_function(store, "g")
    now = now_ms()
    oldest = queued_event("f", accepted_ms=now - 5_000)
    await store.accept_event(oldest, b"{}")  # the oldest: leased first, then rescheduled (delayed)
    [delayed] = await store.lease_events(1, LEASE_MS)
    assert delayed.message.id == oldest.request_id
    await store.finish_attempt(delayed.message, AttemptEnd(slot_of(delayed.claim), retry_at_ms=now + 60_000,
                                                           event_attrs=oldest.to_attrs()))
    await store.accept_event(queued_event("f", accepted_ms=now - 2_000), b"{}")
    await store.lease_events(1, LEASE_MS)  # in flight
    await store.accept_event(queued_event("f", accepted_ms=now - 1_000), b"{}")  # queued
    await store.accept_event(queued_event("g", accepted_ms=now), b"{}")
    rows = await store.queue_report(now)
    assert [(r.function, r.queued, r.in_flight, r.delayed) for r in rows] == [("f", 1, 1, 1), ("g", 1, 0, 0)]
    assert rows[0].oldest_age_s == 5.0 and rows[1].oldest_age_s == 0.0
