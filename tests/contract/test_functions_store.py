"""Functions, versions, aliases, reserved concurrency and recursion (Store protocol), and the code
packages each change leaves unused (the caller deletes those from the code store)."""

from __future__ import annotations

import pytest

from lambdalite.faults import Fault
from lambdalite.store.errors import AlreadyExists, LimitExceeded, Missing
from lambdalite.store.protocol import Store
from tests.support.records import alias_config, code_sha, create_function, function_config


async def test_create_then_read_the_function(store: Store) -> None:
    config = function_config("f", Timeout=7)
    assert await store.create_function(config, code_sha(b"code"), False) == config
    row = await store.get_function("f")
    assert row is not None
    assert (row.name, row.config, row.reserved_concurrency, row.recursion) == ("f", config, None, "Terminate")
    assert await store.function_exists("f") and not await store.function_exists("g")
    assert await store.get_function("g") is None


async def test_creating_an_existing_function_is_refused_and_changes_nothing(store: Store) -> None:
    first = await create_function(store, "f")
    with pytest.raises(AlreadyExists) as info:
        await store.create_function(function_config("f", Timeout=60), code_sha(b"other"), False)
    assert isinstance(info.value, Fault) and info.value.code == "ResourceConflictException"
    row = await store.get_function("f")
    assert row is not None and row.config == first


async def test_create_with_publish_makes_version_1(store: Store) -> None:
    answer = await create_function(store, "f", publish=True)
    assert answer["Version"] == "1" and answer["FunctionArn"].endswith(":f:1")
    assert [v["Version"] for v in await store.list_versions("f")] == ["1"]
    row = await store.get_function("f")
    assert row is not None and row.next_version == 2 and row.config["Version"] == "$LATEST"


async def test_find_target_resolves_latest_versions_and_aliases(store: Store) -> None:
    await create_function(store, "f", Timeout=3)
    v1 = await store.publish_version("f", "first")
    await store.update_latest("f", lambda c: {**c, "Timeout": 9, "RevisionId": "rev-2"}, None, False)
    await store.put_alias("f", "live", alias_config("f", "live", "1"), create=True)
    await store.put_alias("f", "edge", alias_config("f", "edge", "$LATEST"), create=True)

    latest = await store.find_target("f", "$LATEST")
    assert latest is not None and latest.executed_version == "$LATEST" and latest.config["Timeout"] == 9
    assert latest.alias is None and latest.function.name == "f"
    version = await store.find_target("f", "1")
    assert version is not None and version.config == v1 and version.config["Description"] == "first"
    live = await store.find_target("f", "live")
    assert live is not None and live.executed_version == "1" and live.config["Timeout"] == 3
    assert live.alias is not None and live.alias["Name"] == "live"
    edge = await store.find_target("f", "edge")
    assert edge is not None and edge.executed_version == "$LATEST" and edge.config["Timeout"] == 9
    for missing in (("f", "2"), ("f", "nope"), ("g", "$LATEST")):
        assert await store.find_target(*missing) is None


async def test_publishing_an_unchanged_latest_returns_the_last_version(store: Store) -> None:
    await create_function(store, "f")
    first = await store.publish_version("f", None)
    assert await store.publish_version("f", "again") == first
    await store.update_latest("f", lambda c: {**c, "RevisionId": "rev-2"}, None, False)
    second = await store.publish_version("f", None)
    assert second["Version"] == "2" and second["FunctionArn"].endswith(":f:2")
    assert await store.get_version("f", "2") == second
    assert await store.get_version("f", "3") is None
    with pytest.raises(Missing):
        await store.publish_version("g", None)


async def test_update_latest_applies_the_change_and_reports_code_no_longer_used(store: Store) -> None:
    await create_function(store, "f", code=b"v1")
    config, unused = await store.update_latest("f", lambda c: {**c, "Timeout": 30}, None, False)
    assert config["Timeout"] == 30 and unused == []
    row = await store.get_function("f")
    assert row is not None and row.config["Timeout"] == 30

    await store.publish_version("f", None)  # version 1 keeps the v1 code in use
    _, unused = await store.update_latest("f", lambda c: {**c, "RevisionId": "r2"}, code_sha(b"v2"), False)
    assert unused == []
    answer, unused = await store.update_latest("f", lambda c: {**c, "RevisionId": "r3"}, code_sha(b"v3"), True)
    assert unused == [code_sha(b"v2")]  # only $LATEST used it
    assert answer["Version"] == "2"
    with pytest.raises(Missing):
        await store.update_latest("g", lambda c: c, None, False)


async def test_aliases_are_created_once_and_updated_only_when_they_exist(store: Store) -> None:
    await create_function(store, "f", publish=True)
    live = alias_config("f", "live", "1")
    assert await store.put_alias("f", "live", live, create=True) == live
    with pytest.raises(AlreadyExists):
        await store.put_alias("f", "live", live, create=True)
    with pytest.raises(Missing):
        await store.put_alias("f", "other", alias_config("f", "other", "1"), create=False)
    moved = alias_config("f", "live", "$LATEST")
    await store.put_alias("f", "live", moved, create=False)
    assert await store.get_alias("f", "live") == moved
    await store.put_alias("f", "beta", alias_config("f", "beta", "1"), create=True)
    assert [a["Name"] for a in await store.list_aliases("f")] == ["beta", "live"]
    assert await store.delete_alias("f", "live")
    assert not await store.delete_alias("f", "live")
    assert await store.get_alias("f", "live") is None


async def test_deleting_versions_and_functions_reports_the_code_no_longer_used(store: Store) -> None:
    await create_function(store, "f", code=b"v1", publish=True)
    await store.update_latest("f", lambda c: {**c, "RevisionId": "r2"}, code_sha(b"v2"), True)
    await create_function(store, "g", code=b"v2")  # shares v2
    assert await store.delete_version("f", "1") == [code_sha(b"v1")]
    assert await store.delete_version("f", "1") == []  # already gone
    assert await store.get_version("f", "1") is None
    await store.put_alias("f", "live", alias_config("f", "live", "2"), create=True)
    assert await store.delete_function("f") == []  # g still uses v2
    assert await store.get_function("f") is None
    assert await store.list_versions("f") == [] and await store.list_aliases("f") == []
    assert await store.delete_function("g") == [code_sha(b"v2")]
    with pytest.raises(Missing):
        await store.delete_function("g")


async def test_list_functions_pages_by_name(store: Store) -> None:
    for name in ("c", "a", "b"):
        await create_function(store, name)
    page, more = await store.list_functions("", 2)
    assert [r.name for r in page] == ["a", "b"] and more
    page, more = await store.list_functions("b", 2)
    assert [r.name for r in page] == ["c"] and not more


async def test_reserved_concurrency_totals_and_the_account_limit(store: Store) -> None:
    for name in ("a", "b", "c"):
        await create_function(store, name)
    await store.set_reserved_concurrency("a", 10)
    await store.set_reserved_concurrency("b", 5, max_total=20)
    assert await store.reserved_concurrency_total() == 15
    assert await store.reserved_concurrency_total(excluding="a") == 5
    with pytest.raises(LimitExceeded) as info:
        await store.set_reserved_concurrency("c", 6, max_total=20)
    assert info.value.code == "InvalidParameterValueException"
    await store.set_reserved_concurrency("a", 15, max_total=20)  # its own reservation does not count twice
    await store.set_reserved_concurrency("a", None)
    row = await store.get_function("a")
    assert row is not None and row.reserved_concurrency is None
    assert await store.reserved_concurrency_total() == 5
    with pytest.raises(Missing):
        await store.set_reserved_concurrency("ghost", 1)


async def test_recursion_mode_is_stored_per_function(store: Store) -> None:
    await create_function(store, "f")
    await store.set_recursion("f", "Allow")
    row = await store.get_function("f")
    assert row is not None and row.recursion == "Allow"
    target = await store.find_target("f", "$LATEST")
    assert target is not None and target.function.recursion == "Allow"
    with pytest.raises(Missing):
        await store.set_recursion("ghost", "Allow")


async def test_code_usage_counts_functions_and_the_code_of_every_stored_version(store: Store) -> None:
    assert await store.code_usage() == (0, 0)
    await create_function(store, "f", code=b"12345", publish=True)  # $LATEST and version 1: 5 bytes each
    await create_function(store, "g", code=b"123")
    assert await store.code_usage() == (2, 13)
