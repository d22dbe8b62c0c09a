"""Event invoke configs (Store protocol): one per function qualifier; put replaces, update merges in one
transaction, delete one or all of a function's, list in qualifier order."""

from __future__ import annotations

from lambdalite.store.protocol import Store


async def test_put_then_get_and_replace(store: Store) -> None:
    put = await store.put_event_config("f", "$LATEST", {"MaximumRetryAttempts": 1}, 1000)
    assert (put.function, put.qualifier, put.config, put.last_modified_ms) == (
        "f", "$LATEST", {"MaximumRetryAttempts": 1}, 1000)
    assert await store.get_event_config("f", "$LATEST") == put
    replaced = await store.put_event_config("f", "$LATEST", {"MaximumEventAgeInSeconds": 60}, 2000)
    got = await store.get_event_config("f", "$LATEST")
    assert got == replaced and got.max_retry_attempts is None and got.max_event_age_s == 60
    assert await store.get_event_config("f", "live") is None


async def test_update_merges_into_the_current_config_or_returns_none(store: Store) -> None:
    assert await store.update_event_config("f", "$LATEST", lambda c: {**c, "x": 1}, 5) is None
    assert await store.get_event_config("f", "$LATEST") is None
    dest = {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}
    await store.put_event_config("f", "$LATEST", {"MaximumRetryAttempts": 2}, 1)
    updated = await store.update_event_config("f", "$LATEST", lambda c: {**c, "DestinationConfig": dest}, 7)
    assert updated is not None and updated.last_modified_ms == 7
    assert updated.config == {"MaximumRetryAttempts": 2, "DestinationConfig": dest}
    assert await store.get_event_config("f", "$LATEST") == updated
    assert updated.destination("OnSuccess") == "arn:aws:sqs:us-east-1:000000000000:q"


async def test_delete_one_and_delete_all_of_a_function(store: Store) -> None:
    for qualifier in ("$LATEST", "1", "live"):
        await store.put_event_config("f", qualifier, {}, 1)
    await store.put_event_config("g", "$LATEST", {}, 1)
    assert await store.delete_event_config("f", "1")
    assert not await store.delete_event_config("f", "1")
    assert await store.delete_event_invoke_configs("f", "live") == 1
    assert [c.qualifier for c in await store.list_event_configs("f", None, 10)] == ["$LATEST"]
    await store.put_event_config("f", "2", {}, 1)
    assert await store.delete_event_invoke_configs("f", None) == 2
    assert await store.list_event_configs("f", None, 10) == []
    assert await store.get_event_config("g", "$LATEST") is not None


async def test_list_pages_in_qualifier_order(store: Store) -> None:
    for qualifier in ("live", "$LATEST", "1", "beta"):
        await store.put_event_config("f", qualifier, {"q": qualifier}, 1)
    first = await store.list_event_configs("f", None, 2)
    assert [c.qualifier for c in first] == ["$LATEST", "1"]
    rest = await store.list_event_configs("f", first[-1].qualifier, 10)
    assert [c.qualifier for c in rest] == ["beta", "live"] and rest[0].config == {"q": "beta"}
