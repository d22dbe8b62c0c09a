"""Lambda resource policies (Store protocol): statements per function qualifier with a revision id that
changes on every change; a stale revision id is refused; empty policies and deleted functions vanish."""

from __future__ import annotations

from typing import Any

import pytest

from lambdalite.faults import Fault
from lambdalite.store.protocol import Store


def _add(sid: str) -> Any:
    return lambda statements: [*statements, {"Sid": sid}]


async def test_change_keeps_statements_per_qualifier(store: Store) -> None:
    assert await store.get_policy("f", "") is None
    first = await store.change_policy("f", "", _add("a"), None)
    second = await store.change_policy("f", "", _add("b"), first)
    assert first and second and first != second
    assert await store.get_policy("f", "") == ([{"Sid": "a"}, {"Sid": "b"}], second)
    await store.change_policy("f", "live", _add("c"), None)
    assert (await store.get_policy("f", "live") or ([], ""))[0] == [{"Sid": "c"}]


async def test_stale_revision_and_refusals_change_nothing(store: Store) -> None:
    revision = await store.change_policy("f", "", _add("a"), None)
    with pytest.raises(Fault) as exc:
        await store.change_policy("f", "", _add("b"), "stale")
    assert exc.value.code == "PreconditionFailedException"

    def refuse(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise Fault(409, "ResourceConflictException", "dup")

    with pytest.raises(Fault):
        await store.change_policy("f", "", refuse, None)
    assert await store.get_policy("f", "") == ([{"Sid": "a"}], revision)


async def test_empty_policy_and_deletes(store: Store) -> None:
    await store.change_policy("f", "", _add("a"), None)
    assert await store.change_policy("f", "", lambda _: [], None) == ""
    assert await store.get_policy("f", "") is None
    await store.change_policy("f", "", _add("a"), None)
    await store.change_policy("f", "1", _add("b"), None)
    await store.change_policy("g", "", _add("c"), None)
    await store.delete_policies("f", "1")
    assert await store.get_policy("f", "1") is None and await store.get_policy("f", "") is not None
    await store.delete_policies("f", None)
    assert await store.get_policy("f", "") is None and await store.get_policy("g", "") is not None
