"""Event history (Store protocol): attempt rows written with the attempt's end, the browser's filters and
paging over live and ended events, an event's page, delivery results, activity and pruning.

Every backend must pass these: the console and `lambdalite events` read nothing else.
"""

from __future__ import annotations

from dataclasses import replace

from lambdalite.clock import now_ms
from lambdalite.model.history import Activity, AttemptRecord, DeliveryRecord, EventQuery, Result, Status
from lambdalite.model.outcome import Condition
from lambdalite.model.queue import AttemptEnd
from lambdalite.store.protocol import Store
from tests.support.records import create_function, outcome, queued_event, slot_of

LEASE_MS = 30_000


def record(request_id: str, function: str, *, number: int = 1, result: Result = Result.SUCCESS,
           retry_at_ms: int | None = None, condition: str | None = "Success", run: int = 0,
           ended_ms: int | None = None) -> AttemptRecord:
    ended = now_ms() if ended_ms is None else ended_ms
    return AttemptRecord(request_id, function, run, number, ended - 5, ended, result,
                         "Boom" if result is Result.FUNCTION_ERROR else None,
                         "it broke" if result is Result.FUNCTION_ERROR else None, retry_at_ms, condition)


async def run_to_end(store: Store, function: str, condition: Condition = Condition.SUCCESS, *,
                     retries: int = 0, payload: bytes = b'{"n": 1}') -> str:
    """Accept one event, fail it `retries` times (each a retry due at once), then end it with `condition`."""
    event = queued_event(function)
    await store.accept_event(event, payload)
    for number in range(1, retries + 2):
        [leased] = await store.lease_events(10, LEASE_MS)
        if number <= retries:
            rec = record(event.request_id, function, number=number, result=Result.FUNCTION_ERROR,
                         retry_at_ms=now_ms(), condition=None)
            end = AttemptEnd(slot_of(leased.claim), retry_at_ms=now_ms(), event_attrs=event.to_attrs(), record=rec)
        else:
            failed = condition is not Condition.SUCCESS
            rec = record(event.request_id, function, number=number,
                         result=Result.FUNCTION_ERROR if failed else Result.SUCCESS, condition=condition.value)
            end = AttemptEnd(slot_of(leased.claim), outcome=outcome(event, condition, payload=payload), record=rec)
        assert await store.finish_attempt(leased.message, end)
    return event.request_id


async def test_each_attempt_is_recorded_with_its_end_and_the_event_page_shows_them(store: Store) -> None:
    await create_function(store, "f")
    rid = await run_to_end(store, "f", Condition.RETRIES_EXHAUSTED, retries=2, payload=b'{"x": 7}')

    detail = await store.get_event(rid, now_ms())
    assert detail is not None
    assert (detail.function, detail.status, detail.payload, detail.redrivable) == ("f", Status.FAILED, b'{"x": 7}', True)
    assert [a.number for a in detail.attempts] == [1, 2, 3]
    assert [a.decision for a in detail.attempts] == ["retry", "retry", "ended: RetriesExhausted"]
    assert detail.attempts[0].error_type == "Boom" and detail.attempts[0].error_message == "it broke"
    assert detail.attempts[0].duration_ms == 5
    assert detail.outcome is not None and detail.outcome.condition is Condition.RETRIES_EXHAUSTED
    assert await store.get_event("no-such-id", now_ms()) is None


async def test_a_lost_lease_records_no_attempt(store: Store) -> None:
    await create_function(store, "f")
    event = queued_event("f")
    await store.accept_event(event, b"{}")
    [leased] = await store.lease_events(10, LEASE_MS)
    stale = replace(leased.message, receipt="not-the-receipt")
    assert not await store.finish_attempt(stale, AttemptEnd(None, record=record(event.request_id, "f")))
    detail = await store.get_event(event.request_id, now_ms())
    assert detail is not None and detail.status is Status.RUNNING and detail.attempts == []


async def test_live_events_show_their_queue_state_and_payload(store: Store) -> None:
    await create_function(store, "f")
    queued = queued_event("f")
    await store.accept_event(queued, b'{"q": 1}')
    detail = await store.get_event(queued.request_id, now_ms())
    assert detail is not None and detail.status is Status.QUEUED and detail.payload == b'{"q": 1}'
    assert detail.accepted_ms == queued.accepted_ms

    [leased] = await store.lease_events(10, LEASE_MS)
    rows = await store.list_events(EventQuery(status=Status.RUNNING), now_ms())
    assert [r.request_id for r in rows] == [queued.request_id]
    rec = record(queued.request_id, "f", result=Result.FUNCTION_ERROR, retry_at_ms=now_ms() + 60_000, condition=None)
    assert await store.finish_attempt(leased.message, AttemptEnd(slot_of(leased.claim), retry_at_ms=now_ms() + 60_000,
                                                                 event_attrs=replace(queued, attempts=1).to_attrs(),
                                                                 record=rec))
    rows = await store.list_events(EventQuery(status=Status.DELAYED), now_ms())
    assert [(r.request_id, r.attempts) for r in rows] == [(queued.request_id, 1)]
    assert await store.list_events(EventQuery(status=Status.QUEUED), now_ms()) == []


async def test_the_browser_filters_by_function_status_time_and_request_id(store: Store) -> None:
    for name in ("f", "g"):
        await create_function(store, name)
    ok_f = await run_to_end(store, "f")
    bad_f = await run_to_end(store, "f", Condition.RETRIES_EXHAUSTED)
    ok_g = await run_to_end(store, "g")
    live = queued_event("g")
    await store.accept_event(live, b"{}")
    now = now_ms()

    everything = await store.list_events(EventQuery(), now)
    assert {r.request_id for r in everything} == {ok_f, bad_f, ok_g, live.request_id}
    assert [r.time_ms for r in everything] == sorted((r.time_ms for r in everything), reverse=True)
    of_f = await store.list_events(EventQuery(function="f"), now)
    assert {r.request_id for r in of_f} == {ok_f, bad_f}
    failed = await store.list_events(EventQuery(status=Status.FAILED), now)
    assert [(r.request_id, r.condition) for r in failed] == [(bad_f, "RetriesExhausted")]
    assert {r.request_id for r in await store.list_events(EventQuery(status=Status.SUCCEEDED), now)} == {ok_f, ok_g}
    [one] = await store.list_events(EventQuery(request_id=bad_f), now)
    assert (one.function, one.status, one.attempts) == ("f", Status.FAILED, 1)
    assert await store.list_events(EventQuery(since_ms=now + 1), now) == []
    assert {r.request_id for r in await store.list_events(EventQuery(until_ms=now), now)} == {
        ok_f, bad_f, ok_g, live.request_id}


async def test_pages_follow_the_cursor_without_gaps_or_repeats(store: Store) -> None:
    await create_function(store, "f")
    ids = {await run_to_end(store, "f") for _ in range(7)}
    seen: list[str] = []
    query = EventQuery(function="f", limit=3)
    while True:
        page = await store.list_events(query, now_ms())
        seen.extend(r.request_id for r in page)
        if len(page) < 3:
            break
        query = replace(query, before=page[-1].cursor)
    assert len(seen) == 7 and set(seen) == ids


async def test_a_redriven_event_is_live_again_and_keeps_its_earlier_attempts(store: Store) -> None:
    await create_function(store, "f")
    rid = await run_to_end(store, "f", Condition.RETRIES_EXHAUSTED, payload=b'{"again": true}')
    again = queued_event("f", request_id=rid, run=1)
    await store.accept_event(again, b'{"again": true}')

    rows = await store.list_events(EventQuery(function="f"), now_ms())
    assert [(r.request_id, r.status) for r in rows] == [(rid, Status.QUEUED)]
    assert await store.list_events(EventQuery(status=Status.FAILED), now_ms()) == []
    [leased] = await store.lease_events(10, LEASE_MS)
    rec = record(rid, "f", run=1)
    assert await store.finish_attempt(leased.message, AttemptEnd(slot_of(leased.claim), outcome=outcome(again),
                                                                 record=rec))
    detail = await store.get_event(rid, now_ms())
    assert detail is not None and detail.status is Status.SUCCEEDED
    assert [(a.run, a.number, a.decision) for a in detail.attempts] == [
        (0, 1, "ended: RetriesExhausted"), (1, 1, "ended: Success")]


async def test_deliveries_are_shown_on_the_event_page(store: Store) -> None:
    await create_function(store, "f")
    rid = await run_to_end(store, "f", Condition.RETRIES_EXHAUSTED)
    dlq = "arn:aws:sqs:us-east-1:000000000000:dlq"
    await store.record_delivery(DeliveryRecord(rid, "on_failure", "arn:aws:sqs:us-east-1:000000000000:gone", False,
                                               4, now_ms(), "queue does not exist"))
    await store.record_delivery(DeliveryRecord(rid, "dead_letter", dlq, True, 1, now_ms()))
    detail = await store.get_event(rid, now_ms())
    assert detail is not None
    assert {(d.side, d.delivered, d.attempts, d.error) for d in detail.deliveries} == {
        ("on_failure", False, 4, "queue does not exist"), ("dead_letter", True, 1, None)}


async def test_activity_counts_attempts_by_what_came_of_them(store: Store) -> None:
    await create_function(store, "f")
    await run_to_end(store, "f")  # before the cursor: not counted
    nothing, cursor = await store.event_activity(None)
    assert nothing == Activity()
    await run_to_end(store, "f", retries=2)
    await run_to_end(store, "f", Condition.EVENT_AGE_EXCEEDED)
    activity, cursor = await store.event_activity(cursor)
    assert (activity.successes, activity.retries, activity.failures, activity.drops) == (1, 2, 1, 0)
    assert await store.event_activity(cursor) == (Activity(), cursor)


async def test_pruning_drops_old_attempts_and_deliveries(store: Store) -> None:
    await create_function(store, "f")
    rid = await run_to_end(store, "f", retries=1)
    await store.record_delivery(DeliveryRecord(rid, "on_success", "arn:aws:sqs:us-east-1:000000000000:q", True, 1,
                                               now_ms()))
    assert await store.prune_history(now_ms() - 60_000) == 0
    assert await store.prune_history(now_ms() + 1) == 3
    await store.prune_outcomes(now_ms() + 1)
    assert await store.get_event(rid, now_ms()) is None
