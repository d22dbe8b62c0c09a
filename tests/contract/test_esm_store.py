"""The event source mappings part of the Store protocol, on every backend."""

from __future__ import annotations

import uuid
from dataclasses import replace

from lambdalite.model.esm import (
    CREATING,
    DELETING,
    DISABLED,
    ENABLED,
    PURGE_AFTER_MS,
    SETTLE_MS,
    UPDATING,
    EventSourceMapping,
)
from lambdalite.store.protocol import Store
from tests.support.backends import Backend

QUEUE = "arn:aws:sqs:us-east-1:000000000000:q"
FN = "arn:aws:lambda:us-east-1:000000000000:function:f"


def mapping(source: str = QUEUE, function_arn: str = FN, *, at_ms: int = 1_000_000, **kw: object) -> EventSourceMapping:
    fields: dict[str, object] = {
        "uuid": str(uuid.uuid4()), "region": "us-east-1", "source_arn": source, "function_name": "f",
        "function_arn": function_arn, "batch_size": 10, "window_s": 0, "enabled": True, "state": CREATING,
        "changed_ms": at_ms, **kw,
    }
    return EventSourceMapping(**fields)  # type: ignore[arg-type]


async def test_create_get_roundtrip(store: Store) -> None:
    m = mapping(filters=('{"body": {"a": [1]}}',), response_types=("ReportBatchItemFailures",), max_concurrency=5,
                tags={"k": "v"})
    assert await store.esm_create(m) is None
    got = await store.esm_get(m.uuid)
    assert got == m
    assert await store.esm_get(str(uuid.uuid4())) is None


async def test_same_queue_and_function_conflicts(store: Store) -> None:
    first = mapping()
    assert await store.esm_create(first) is None
    assert await store.esm_create(mapping()) == first.uuid
    # another qualifier, another queue: separate mappings
    assert await store.esm_create(mapping(function_arn=FN + ":live")) is None
    assert await store.esm_create(mapping(source=QUEUE + "2")) is None


async def test_update_applies_change(store: Store) -> None:
    m = mapping()
    await store.esm_create(m)
    updated = await store.esm_update(m.uuid, lambda cur: cur.changed(2_000_000, batch_size=5))
    assert updated is not None and updated.batch_size == 5 and updated.state == UPDATING
    assert await store.esm_get(m.uuid) == updated
    assert await store.esm_update(str(uuid.uuid4()), lambda cur: cur) is None


async def test_delete_marks_deleting_then_frees_the_pair(store: Store) -> None:
    m = mapping()
    await store.esm_create(m)
    deleted = await store.esm_delete(m.uuid, 2_000_000)
    assert deleted is not None and deleted.state == DELETING and deleted.deleting
    assert (await store.esm_get(m.uuid)) == deleted
    assert await store.esm_delete(str(uuid.uuid4()), 2_000_000) is None
    # a deleting mapping no longer holds the queue and function pair
    again = mapping(at_ms=2_000_001)
    assert await store.esm_create(again) is None
    # and its row goes once it has long been gone
    await store.esm_create(mapping(source=QUEUE + "3", at_ms=2_000_000 + SETTLE_MS + PURGE_AFTER_MS + 1))
    assert await store.esm_get(m.uuid) is None


async def test_list_filters_and_pages(store: Store) -> None:
    made = [mapping(), mapping(source=QUEUE + "b"), mapping(function_arn=FN + ":1"),
            replace(mapping(source=QUEUE + "c"), function_name="g", function_arn=FN[:-1] + "g")]
    for m in made:
        await store.esm_create(m)
    everything = await store.esm_list()
    assert [m.uuid for m in everything] == sorted(m.uuid for m in made)
    assert {m.uuid for m in await store.esm_list(source_arn=QUEUE)} == {made[0].uuid, made[2].uuid}
    assert {m.uuid for m in await store.esm_list(function_name="f")} == {m.uuid for m in made[:3]}
    assert [m.uuid for m in await store.esm_list(function_arn=FN + ":1")] == [made[2].uuid]
    first = await store.esm_list(limit=2)
    rest = await store.esm_list(after=first[-1].uuid)
    assert [m.uuid for m in first + rest] == [m.uuid for m in everything]


async def test_seen_by_another_process(backend: Backend) -> None:
    api, worker = backend.open(), backend.open()
    m = mapping()
    await api.esm_create(m)
    assert await worker.esm_get(m.uuid) == m
    await api.esm_update(m.uuid, lambda cur: cur.changed(2_000_000, enabled=False))
    seen = await worker.esm_get(m.uuid)
    assert seen is not None and not seen.polling


def test_states_settle() -> None:
    m = mapping(at_ms=0)
    assert m.state_at(0) == CREATING
    assert m.state_at(SETTLE_MS) == ENABLED
    off = m.changed(10_000, enabled=False)
    assert off.state_at(10_000) == "Disabling" and off.state_at(10_000 + SETTLE_MS) == DISABLED
    gone = replace(m, state=DELETING, changed_ms=20_000)
    assert gone.state_at(20_000) == DELETING and gone.state_at(20_000 + SETTLE_MS) is None
