"""SQS queues and their messages (Store protocol): queue records, attributes and tags, send, receive
with visibility, retention expiry and redrive to a dead-letter queue, delete, change visibility."""

from __future__ import annotations

import uuid

import orjson
import pytest

from lambdalite.clock import now_ms
from lambdalite.faults import Fault
from lambdalite.model.queue import Message, NewMessage
from lambdalite.model.sqs import QueueRecord, VisibilityChange
from lambdalite.services.sqs.queue_attributes import DEFAULTS
from lambdalite.store.protocol import Store
from tests.support.aio import wait_for
from tests.support.records import REGION, queue_arn

KIND = "sqs"
RETENTION_S = 345_600
VISIBILITY_MS = 30_000


def record(name: str, region: str = REGION, **attrs: str) -> QueueRecord:
    return QueueRecord(region, name, queue_arn(name, region), {**DEFAULTS, **attrs}, {"team": "a"}, 100, 100)


async def make_queue(store: Store, name: str, **attrs: str) -> str:
    assert await store.sqs_create_queue(record(name, **attrs)) is None
    return queue_arn(name)


def message(arn: str, body: bytes = b"hello", *, id: str | None = None, delay_ms: int = 0) -> NewMessage:
    return NewMessage(kind=KIND, queue=arn, id=id or str(uuid.uuid4()), body=body, attrs=b'{"a": {}}',
                      delay_ms=delay_ms)


async def receive(store: Store, arn: str, *, limit: int = 10, visibility_ms: int = VISIBILITY_MS,
                  redrive: tuple[str, int] | None = None, retention_s: int = RETENTION_S) -> list[Message]:
    return await store.sqs_receive(arn, retention_s=retention_s, redrive=redrive, limit=limit,
                                   visibility_ms=visibility_ms)


async def counts(store: Store, arn: str, retention_s: int = RETENTION_S) -> tuple[int, int, int]:
    c = await store.sqs_counts(arn, retention_s)
    return c.visible, c.in_flight, c.delayed


# ---- queues -------------------------------------------------------------------------------------------


async def test_creating_an_existing_queue_returns_the_existing_record_unchanged(store: Store) -> None:
    first = record("q", VisibilityTimeout="5")
    assert await store.sqs_create_queue(first) is None
    again = record("q", VisibilityTimeout="60")
    assert await store.sqs_create_queue(again) == first
    assert await store.sqs_queue(REGION, "q") == first
    assert await store.sqs_queue_by_arn(first.arn) == first
    assert await store.sqs_queue(REGION, "other") is None
    assert await store.sqs_queue_by_arn(queue_arn("other")) is None


async def test_queues_are_listed_per_region_by_name(store: Store) -> None:
    for name in ("b", "a2", "a1", "c"):
        await make_queue(store, name)
    await store.sqs_create_queue(record("a0", "eu-west-1"))
    assert await store.sqs_list_names(REGION, "", "", 10) == ["a1", "a2", "b", "c"]
    assert await store.sqs_list_names(REGION, "a", "", 10) == ["a1", "a2"]
    assert await store.sqs_list_names(REGION, "", "a2", 2) == ["b", "c"]
    assert [r.name for r in await store.sqs_queues(REGION)] == ["a1", "a2", "b", "c"]
    assert [r.name for r in await store.sqs_queues("eu-west-1")] == ["a0"]


async def test_set_attributes_merges_and_an_empty_value_removes_one(store: Store) -> None:
    arn = await make_queue(store, "q", RedrivePolicy='{"x": 1}')
    assert await store.sqs_set_attributes(arn, {"VisibilityTimeout": "7", "RedrivePolicy": ""}, 500)
    got = await store.sqs_queue_by_arn(arn)
    assert got is not None and got.modified_s == 500 and got.created_s == 100
    assert got.attrs["VisibilityTimeout"] == "7" and "RedrivePolicy" not in got.attrs
    assert got.attrs["MessageRetentionPeriod"] == DEFAULTS["MessageRetentionPeriod"]
    assert not await store.sqs_set_attributes(queue_arn("missing"), {"VisibilityTimeout": "7"}, 500)


async def test_set_tags_replaces_them_with_the_merge_of_the_current_ones(store: Store) -> None:
    arn = await make_queue(store, "q")
    assert await store.sqs_set_tags(arn, lambda tags: {**tags, "env": "prod"})
    got = await store.sqs_queue_by_arn(arn)
    assert got is not None and got.tags == {"team": "a", "env": "prod"}

    def too_many(tags: dict[str, str]) -> dict[str, str]:
        raise Fault(400, "InvalidParameterValue", "Too many tags")

    with pytest.raises(Fault):
        await store.sqs_set_tags(arn, too_many)
    got = await store.sqs_queue_by_arn(arn)
    assert got is not None and got.tags == {"team": "a", "env": "prod"}
    assert not await store.sqs_set_tags(queue_arn("missing"), lambda tags: {})


async def test_deleting_a_queue_deletes_its_messages(store: Store) -> None:
    arn = await make_queue(store, "q")
    await store.sqs_send(arn, [message(arn)])
    await store.sqs_delete_queue(arn)
    assert await store.sqs_queue_by_arn(arn) is None
    await make_queue(store, "q")
    assert await counts(store, arn) == (0, 0, 0)
    assert await receive(store, arn) == []


async def test_purge_empties_one_queue(store: Store) -> None:
    arn, other = await make_queue(store, "q"), await make_queue(store, "other")
    await store.sqs_send(arn, [message(arn), message(arn)])
    await store.sqs_send(other, [message(other)])
    assert await store.sqs_purge(arn) == 2
    assert await counts(store, arn) == (0, 0, 0) and await counts(store, other) == (1, 0, 0)


# ---- messages -----------------------------------------------------------------------------------------


async def test_sent_messages_are_received_once_until_their_visibility_ends(store: Store) -> None:
    arn = await make_queue(store, "q")
    sent = [message(arn, b"one"), message(arn, b"two")]
    assert await store.sqs_send(arn, sent)
    assert await counts(store, arn) == (2, 0, 0)
    got = await receive(store, arn)
    assert sorted((m.id, m.body, m.attrs, m.queue) for m in got) == sorted(
        (m.id, m.body, m.attrs, arn) for m in sent)
    assert all(m.receive_count == 1 and m.receipt and m.first_receive_ms for m in got)
    assert await receive(store, arn) == []
    assert await counts(store, arn) == (0, 2, 0)


async def test_a_receive_takes_at_most_limit_messages(store: Store) -> None:
    arn = await make_queue(store, "q")
    await store.sqs_send(arn, [message(arn) for _ in range(5)])
    assert len(await receive(store, arn, limit=3)) == 3
    assert len(await receive(store, arn, limit=3)) == 2


async def test_sending_to_a_missing_queue_stores_nothing(store: Store) -> None:
    arn = queue_arn("gone")
    assert not await store.sqs_send(arn, [message(arn), message(arn)])
    await make_queue(store, "gone")
    assert await counts(store, arn) == (0, 0, 0)


async def test_a_delayed_message_is_counted_delayed_until_due(store: Store) -> None:
    arn = await make_queue(store, "q")
    before_ms = now_ms()
    assert await store.sqs_next_due_ms(arn) is None
    await store.sqs_send(arn, [message(arn, delay_ms=60_000)])
    assert await counts(store, arn) == (0, 0, 1)
    assert await receive(store, arn) == []
    due = await store.sqs_next_due_ms(arn)
    assert due is not None and before_ms + 60_000 <= due <= now_ms() + 60_000


async def test_delete_removes_only_this_queues_messages(store: Store) -> None:
    arn, other = await make_queue(store, "q"), await make_queue(store, "other")
    mine, theirs = message(arn), message(other)
    await store.sqs_send(arn, [mine])
    await store.sqs_send(other, [theirs])
    await store.sqs_delete(arn, [mine.id, theirs.id, "unknown"])
    assert await counts(store, arn) == (0, 0, 0)
    assert await counts(store, other) == (1, 0, 0)


async def test_change_visibility_outcomes(store: Store) -> None:
    arn, other = await make_queue(store, "q"), await make_queue(store, "other")
    kept, freed, idle = message(arn, b"kept"), message(arn, b"freed"), message(arn, b"idle", delay_ms=60_000)
    theirs = message(other)
    await store.sqs_send(arn, [kept, freed, idle])
    await store.sqs_send(other, [theirs])
    received = {m.id: m for m in await receive(store, arn, visibility_ms=1_000)}
    [their_message] = await receive(store, other)
    assert set(received) == {kept.id, freed.id}
    changes = [
        VisibilityChange(kept.id, received[kept.id].receipt or "", 60),
        VisibilityChange(freed.id, received[freed.id].receipt or "", 0),
        VisibilityChange(idle.id, "no-receipt", 10),
        VisibilityChange(kept.id, "stale-receipt", 10),
        VisibilityChange("unknown", "r", 10),
        VisibilityChange(theirs.id, their_message.receipt or "", 10),
    ]
    assert await store.sqs_change_visibility(arn, changes) == [
        "ok", "ok", "not_in_flight", "not_in_flight", "missing", "missing"]
    [again] = await receive(store, arn)  # visibility 0: received again at once; "kept" stays hidden
    assert again.id == freed.id and again.receive_count == 2
    assert await counts(store, arn) == (0, 2, 1)


async def test_a_message_whose_visibility_ended_is_not_in_flight(store: Store) -> None:
    arn = await make_queue(store, "q")
    await store.sqs_send(arn, [message(arn)])
    [first] = await receive(store, arn, visibility_ms=1)
    [second] = await wait_for(lambda: receive(store, arn), what="the visibility to end")
    assert second.receive_count == 2
    assert await store.sqs_change_visibility(arn, [VisibilityChange(first.id, first.receipt or "", 5)]) == [
        "not_in_flight"]


async def test_messages_past_retention_are_dropped_by_counts_and_receive(store: Store) -> None:
    arn = await make_queue(store, "q")
    old = message(arn, b"old")
    await store.sqs_send(arn, [old])
    sent_ms = now_ms()
    await wait_for(lambda: now_ms() > sent_ms + 1_100, what="the old message to pass 1 s of retention")
    new = message(arn, b"new")
    await store.sqs_send(arn, [new])
    assert await counts(store, arn, retention_s=RETENTION_S) == (2, 0, 0)
    assert await counts(store, arn, retention_s=1) == (1, 0, 0)
    assert [m.id for m in await receive(store, arn, retention_s=1)] == [new.id]
    assert await counts(store, arn, retention_s=RETENTION_S) == (0, 1, 0)  # the old one is gone for good


async def test_a_message_received_more_than_max_receive_count_moves_to_the_dead_letter_queue(
    store: Store,
) -> None:
    arn, dlq = await make_queue(store, "src"), await make_queue(store, "dlq")
    sent = message(arn, b"poison")
    await store.sqs_send(arn, [sent])
    redrive = (dlq, 2)
    for count in (1, 2):
        [got] = await receive(store, arn, visibility_ms=0, redrive=redrive)
        assert got.receive_count == count
    assert await receive(store, arn, visibility_ms=0, redrive=redrive) == []  # third receive: moved
    assert await counts(store, arn) == (0, 0, 0)
    assert await counts(store, dlq) == (1, 0, 0)
    [moved] = await receive(store, dlq)
    assert (moved.id, moved.body, moved.queue, moved.receive_count) == (sent.id, b"poison", dlq, 1)
    assert orjson.loads(moved.attrs or b"{}")["src"] == arn  # DeadLetterQueueSourceArn


async def test_no_redrive_when_the_dead_letter_queue_does_not_exist(store: Store) -> None:
    arn = await make_queue(store, "src")
    await store.sqs_send(arn, [message(arn)])
    for count in (1, 2, 3):
        [got] = await receive(store, arn, visibility_ms=0, redrive=(queue_arn("no-dlq"), 1))
        assert got.receive_count == count


async def test_a_receive_fills_its_batch_past_messages_it_moved(store: Store) -> None:
    arn, dlq = await make_queue(store, "src"), await make_queue(store, "dlq")
    poison = message(arn, b"poison")
    await store.sqs_send(arn, [poison])
    [first] = await receive(store, arn, visibility_ms=0)  # received once, visible again at once
    await wait_for(lambda: now_ms() > first.visible_ms, what="the clock to move on")  # poison is due first
    good = message(arn, b"good")
    await store.sqs_send(arn, [good])
    got = await receive(store, arn, limit=1, redrive=(dlq, 1))
    assert [m.id for m in got] == [good.id]
    assert await counts(store, dlq) == (1, 0, 0)
