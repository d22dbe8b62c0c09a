"""Background jobs and outcomes (Store protocol): the job loop's queue (enqueue without duplicates,
lease per kind, delete, retry later) and the ended events' outcomes (read, prune)."""

from __future__ import annotations

from lambdalite.clock import now_ms
from lambdalite.model.event import DELIVERY_KIND, RULE_TARGET_KIND
from lambdalite.model.outcome import Condition
from lambdalite.model.queue import AttemptEnd, NewMessage
from lambdalite.store.protocol import Store
from tests.support.aio import wait_for
from tests.support.records import create_function, outcome, queued_event, slot_of

LEASE_MS = 30_000


def job(id: str, body: bytes = b"body", *, kind: str = DELIVERY_KIND, delay_ms: int = 0) -> NewMessage:
    return NewMessage(kind=kind, queue="@delivery/f", id=id, body=body, attrs=b'{"a": 1}', delay_ms=delay_ms)


async def test_enqueued_jobs_are_leased_by_kind_with_their_content(store: Store) -> None:
    await store.enqueue_jobs([job("d1"), job("t1", kind=RULE_TARGET_KIND)])
    [leased] = await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10)
    assert (leased.id, leased.kind, leased.queue, leased.body, leased.attrs) == (
        "d1", DELIVERY_KIND, "@delivery/f", b"body", b'{"a": 1}')
    assert leased.receive_count == 1 and leased.receipt
    assert await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10) == []  # invisible while leased
    assert [j.id for j in await store.lease_jobs(RULE_TARGET_KIND, LEASE_MS, 10)] == ["t1"]


async def test_a_job_whose_id_is_queued_already_is_kept_not_duplicated(store: Store) -> None:
    """An event that ends twice (at-least-once) while its first delivery is pending delivers once."""
    await store.enqueue_jobs([job("rid/on_failure", b"first")])
    await store.enqueue_jobs([job("rid/on_failure", b"second"), job("rid/dead_letter")])
    leased = {j.id: j.body for j in await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10)}
    assert leased == {"rid/on_failure": b"first", "rid/dead_letter": b"body"}


async def test_jobs_an_attempt_queues_are_not_duplicated_either(store: Store) -> None:
    await create_function(store, "f")
    event = queued_event("f")
    await store.accept_event(event, b"{}")
    [leased] = await store.lease_events(1, LEASE_MS)
    await store.enqueue_jobs([job(f"{event.request_id}/on_success", b"pending")])
    end = AttemptEnd(slot_of(leased.claim), outcome=outcome(event), jobs=[job(f"{event.request_id}/on_success", b"again")])
    assert await store.finish_attempt(leased.message, end)
    assert [j.body for j in await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10)] == [b"pending"]


async def test_lease_limit_and_delay(store: Store) -> None:
    before_ms = now_ms()
    await store.enqueue_jobs([job("a"), job("b"), job("later", delay_ms=60_000)])
    due = await store.next_due_ms(DELIVERY_KIND)
    assert due is not None and due <= now_ms()
    assert len(await store.lease_jobs(DELIVERY_KIND, 120_000, 1)) == 1
    assert len(await store.lease_jobs(DELIVERY_KIND, 120_000, 10)) == 1  # "later" is not due
    due = await store.next_due_ms(DELIVERY_KIND)  # the earliest of "later" and the two leases' ends
    assert due is not None and before_ms + 60_000 <= due <= now_ms() + 60_000


async def test_delete_needs_the_current_receipt(store: Store) -> None:
    await store.enqueue_jobs([job("a")])
    [first] = await store.lease_jobs(DELIVERY_KIND, 1, 10)
    [second] = await wait_for(lambda: store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10), what="the lease to lapse")
    assert second.receive_count == 2 and second.receipt != first.receipt
    assert not await store.delete_job("a", first.receipt)
    assert await store.delete_job("a", second.receipt)
    assert await store.next_due_ms(DELIVERY_KIND) is None
    assert not await store.delete_job("a", second.receipt)


async def test_a_retried_job_comes_back_when_due_with_its_receive_count(store: Store) -> None:
    await store.enqueue_jobs([job("a")])
    [first] = await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10)
    assert not await store.retry_job("a", "stale-receipt", now_ms())
    later = now_ms() + 60_000
    assert await store.retry_job("a", first.receipt, later)
    assert await store.next_due_ms(DELIVERY_KIND) == later
    assert await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10) == []
    assert await store.retry_job("a", None, now_ms())  # due now (no receipt: whoever holds it)
    [again] = await store.lease_jobs(DELIVERY_KIND, LEASE_MS, 10)
    assert again.id == "a" and again.receive_count == 2 and again.body == b"body"


# ---- outcomes -----------------------------------------------------------------------------------------


async def test_outcomes_are_read_by_request_id_and_pruned_by_age(store: Store) -> None:
    await create_function(store, "f")
    now = now_ms()
    ended = {}
    for request_id, ended_ms, condition in (("old", now - 10_000, Condition.RETRIES_EXHAUSTED),
                                            ("new", now, Condition.SUCCESS)):
        event = queued_event("f", request_id=request_id)
        await store.accept_event(event, b"{}")
        [leased] = await store.lease_events(1, LEASE_MS)
        ended[request_id] = outcome(event, condition, ended_ms=ended_ms)
        assert await store.finish_attempt(leased.message, AttemptEnd(slot_of(leased.claim), outcome=ended[request_id]))
    assert await store.get_outcome("old") == ended["old"]
    assert await store.get_outcome("missing") is None
    assert await store.prune_outcomes(now - 5_000) == 1
    assert await store.get_outcome("old") is None
    assert await store.get_outcome("new") == ended["new"]
    assert await store.prune_outcomes(now - 5_000) == 0
