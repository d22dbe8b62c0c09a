"""SQLite only: the SQLite backend's own machinery behind the protocol, exercised through its internals
(fault injection into the writer's connection, the generation counter's re-read racing a commit)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdalite.clock import now_ms
from lambdalite.settings import Settings
from lambdalite.store.sqlite import SqliteStore, event_configs, functions, slots


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(Settings(data_dir=tmp_path / "data", lease_s=0.3))
    yield store
    store.close()


def _deny_slot_deletes(action: int, table: str | None, *_: object) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_DELETE and table == "slots" else sqlite3.SQLITE_OK


def test_a_slot_whose_release_failed_lapses_instead_of_being_renewed_forever(sqlite_store: SqliteStore) -> None:
    """The process renews the slots it holds; one it tried to release is no longer held, even when the
    release write failed: renewing it for ever would take a reserved-concurrency slot for good."""
    store = sqlite_store

    async def main() -> None:
        slot = await store.acquire_slot("f", 1)
        assert isinstance(slot, int)
        store.db._conn.set_authorizer(_deny_slot_deletes)  # the release's write fails (as on a disk error)
        with pytest.raises(sqlite3.DatabaseError):
            await store.release_slot(slot)
        store.db._conn.set_authorizer(None)
        deadline_s = time.monotonic() + 10
        while store.db.read(lambda c: slots.running(c, "f", now_ms())):
            assert time.monotonic() < deadline_s, "the slot whose release failed is still held"
            await store.renew_slots()  # what the maintenance loop does every lease_s / 3
            await asyncio.sleep(0.05)
        assert isinstance(await store.acquire_slot("f", 1), int)

    asyncio.run(main())


def _put_config(conn: sqlite3.Connection) -> None:
    event_configs.put(conn, "f", "$LATEST", {"MaximumRetryAttempts": 0}, 0)


def test_own_change_is_seen_at_once_when_a_reread_of_the_counter_races_its_commit(
    sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configuration cache: this process's own changes are seen at once, whatever the interleaving."""
    store = sqlite_store
    monkeypatch.setattr(functions, "GENERATION_MAX_AGE_S", 3600.0)
    assert asyncio.run(store.get_event_config("f", "$LATEST")) is None  # cached as missing

    # A periodic re-read of the counter reads the old value; before it stores that value, the writer
    # commits a change (and refreshes the counter after the commit, as it does after every commit).
    real_read_value = store.db.read_value

    def racing_read_value(*args: Any) -> Any:
        value = real_read_value(*args)
        store.db.write_sync(_put_config)
        return value

    monkeypatch.setattr(store.db, "read_value", racing_read_value)
    monkeypatch.setattr(functions, "GENERATION_MAX_AGE_S", 0.0)
    store.function_generation()
    monkeypatch.setattr(store.db, "read_value", real_read_value)
    monkeypatch.setattr(functions, "GENERATION_MAX_AGE_S", 3600.0)

    # The change was committed (write_sync returned): this process must not serve the old config.
    config = asyncio.run(store.get_event_config("f", "$LATEST"))
    assert config is not None and config.max_retry_attempts == 0


def test_a_read_only_store_reads_beside_a_writer_and_refuses_writes(sqlite_store: SqliteStore) -> None:
    """`lambdalite queue` opens the store read-only: no writer thread, no schema, no write lock, so it
    works beside a running server (which keeps writing) and without write access."""
    from lambdalite.store import open_store
    from tests.support.records import queued_event

    async def main() -> None:
        await sqlite_store.accept_event(queued_event("f", request_id="a"), b"{}")
        reader = open_store(sqlite_store.settings, read_only=True)
        try:
            assert [(r.function, r.queued) for r in await reader.queue_report(now_ms())] == [("f", 1)]
            async with asyncio.timeout(5):  # the writer is not held up by the reader
                await sqlite_store.accept_event(queued_event("f", request_id="b"), b"{}")
            assert [r.queued for r in await reader.queue_report(now_ms())] == [2]
            with pytest.raises(sqlite3.OperationalError):
                await reader.accept_event(queued_event("f", request_id="c"), b"{}")
        finally:
            reader.close()

    asyncio.run(main())
