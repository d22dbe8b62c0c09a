"""Concurrency slots: reserved limits, the account's unreserved pool, batches, expiry."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from lambdalite.settings import Settings
from lambdalite.store.sqlite import SqliteStore, functions, queues, slots

NOW_MS = 1_000_000


def db(reserved: dict[str, int | None]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in functions.SCHEMA + slots.SCHEMA:
        conn.execute(statement)
    for name, r in reserved.items():
        conn.execute("INSERT INTO functions(name, reserved_concurrency, config) VALUES (?,?,'{}')", (name, r))
    return conn


def take(conn: sqlite3.Connection, wanted: list[tuple[str, int | None]], *, account: int = 10, floor: int = 0,
         now_ms: int = NOW_MS) -> list[int | str]:
    return slots.acquire_many(conn, wanted, account_limit=account, unreserved_floor=floor, holder="h",
                              now_ms=now_ms, ttl_ms=1000)


def test_reserved_concurrency_limits_a_batch() -> None:
    conn = db({"r": 2})
    got = take(conn, [("r", 2)] * 3)
    assert [isinstance(x, int) for x in got] == [True, True, False]
    assert got[2] == slots.FUNCTION_LIMIT


def test_unreserved_functions_share_the_account_limit_less_reservations() -> None:
    conn = db({"a": None, "b": None, "r": 5})
    got = take(conn, [("a", None), ("b", None), ("a", None), ("b", None)], account=8, floor=5)
    assert got[3] == slots.ACCOUNT_LIMIT and all(isinstance(x, int) for x in got[:3])
    assert take(conn, [("r", 5)])[0] != slots.FUNCTION_LIMIT  # the reservation is untouched


def test_single_acquire_and_release_and_expiry() -> None:
    conn = db({"r": 1})
    first = slots.acquire(conn, function="r", reserved=1, account_limit=10, unreserved_floor=0, holder="h",
                          now_ms=NOW_MS, ttl_ms=1000)
    assert isinstance(first, int)
    assert take(conn, [("r", 1)]) == [slots.FUNCTION_LIMIT]
    slots.release(conn, first)
    assert isinstance(take(conn, [("r", 1)])[0], int)
    assert isinstance(take(conn, [("r", 1)], now_ms=NOW_MS + 5000)[0], int)  # the held one lapsed


def _deny_slot_deletes(action: int, table: str | None, *_: object) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_DELETE and table == "slots" else sqlite3.SQLITE_OK


def test_a_slot_whose_release_failed_lapses_instead_of_being_renewed_forever(tmp_path: Path) -> None:
    """The process renews the slots it holds; one it tried to release is no longer held, even when the
    release write failed: renewing it for ever would take a reserved-concurrency slot for good."""
    store = SqliteStore(Settings(data_dir=tmp_path / "data", lease_s=0.3))

    async def main() -> None:
        slot = await store.acquire_slot("f", 1, 0)
        assert isinstance(slot, int)
        store.db._conn.set_authorizer(_deny_slot_deletes)  # the release's write fails (as on a disk error)
        with pytest.raises(sqlite3.DatabaseError):
            await store.release_slot(slot)
        store.db._conn.set_authorizer(None)
        deadline_s = time.monotonic() + 10
        while store.db.read(lambda c: slots.running(c, "f", queues.now_ms())):
            assert time.monotonic() < deadline_s, "the slot whose release failed is still held"
            await store.renew_slots()  # what the maintenance loop does every lease_s / 3
            await asyncio.sleep(0.05)
        assert isinstance(await store.acquire_slot("f", 1, 0), int)

    try:
        asyncio.run(main())
    finally:
        store.close()


def test_renewal_keeps_held_slots_alive(tmp_path: Path) -> None:
    store = SqliteStore(Settings(data_dir=tmp_path / "data", lease_s=0.3))

    async def main() -> None:
        slot = await store.acquire_slot("f", 1, 0)
        assert isinstance(slot, int)
        until_s = time.monotonic() + 1.0  # more than three leases
        while time.monotonic() < until_s:
            await store.renew_slots()
            await asyncio.sleep(0.05)
        assert await store.acquire_slot("f", 1, 0) == slots.FUNCTION_LIMIT
        await store.release_slot(slot)
        assert isinstance(await store.acquire_slot("f", 1, 0), int)

    try:
        asyncio.run(main())
    finally:
        store.close()
