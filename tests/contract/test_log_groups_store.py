"""Log groups (Store protocol): explicit groups and retention settings; create_only refuses an existing
explicit group; retention can be set, kept across other changes, and cleared."""

from __future__ import annotations

import pytest

from lambdalite.store.errors import AlreadyExists
from lambdalite.store.protocol import Store
from tests.support.backends import Backend


async def test_retention_survives_and_clears(backend: Backend) -> None:
    store = backend.open()
    row = await store.put_log_group("/aws/lambda/f", now_ms=5, retention_days=7)
    assert (row.name, row.created_ms, row.retention_days, row.explicit) == ("/aws/lambda/f", 5, 7, False)
    again = backend.open()
    assert await again.get_log_group("/aws/lambda/f") == row
    kept = await again.put_log_group("/aws/lambda/f", now_ms=9, explicit=True)
    assert (kept.created_ms, kept.retention_days, kept.explicit) == (5, 7, True)
    cleared = await again.put_log_group("/aws/lambda/f", now_ms=9, clear_retention=True)
    assert cleared.retention_days is None and cleared.explicit


async def test_create_only_and_delete(store: Store) -> None:
    await store.put_log_group("g", now_ms=1, explicit=True, create_only=True)
    with pytest.raises(AlreadyExists):
        await store.put_log_group("g", now_ms=2, explicit=True, create_only=True)
    await store.put_log_group("a", now_ms=3, retention_days=1)
    assert [g.name for g in await store.list_log_groups()] == ["a", "g"]
    assert await store.delete_log_group("g") is True
    assert await store.delete_log_group("g") is False
    assert await store.get_log_group("g") is None
