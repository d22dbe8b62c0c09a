"""Resource tags (Store protocol): one map per ARN, replaced by a pure merge in one transaction, deleted
with the resource (and the ARNs under it), shared by every store instance on the data."""

from __future__ import annotations

import pytest

from lambdalite.faults import Fault
from lambdalite.store.protocol import Store
from tests.support.backends import Backend

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


async def test_set_merge_get_and_delete(store: Store) -> None:
    assert await store.get_tags(ARN) == {}
    assert await store.set_tags(ARN, lambda current: {**current, "a": "1"}) == {"a": "1"}
    assert await store.set_tags(ARN, lambda current: {**current, "b": "2"}) == {"a": "1", "b": "2"}
    await store.set_tags(ARN + "_other", lambda _: {"x": "y"})
    await store.set_tags(ARN + ":live", lambda _: {"q": "z"})
    assert await store.delete_tags(ARN) == 2
    assert await store.get_tags(ARN) == {}
    assert await store.get_tags(ARN + ":live") == {}
    assert await store.get_tags(ARN + "_other") == {"x": "y"}


async def test_a_refusing_merge_changes_nothing(store: Store) -> None:
    await store.set_tags(ARN, lambda _: {"a": "1"})

    def refuse(current: dict[str, str]) -> dict[str, str]:
        raise Fault(400, "InvalidParameterValueException", "too many")

    with pytest.raises(Fault):
        await store.set_tags(ARN, refuse)
    assert await store.get_tags(ARN) == {"a": "1"}


async def test_an_empty_map_forgets_the_resource(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    await one.set_tags(ARN, lambda _: {"a": "1"})
    assert await two.get_tags(ARN) == {"a": "1"}
    await two.set_tags(ARN, lambda _: {})
    assert await one.get_tags(ARN) == {}
