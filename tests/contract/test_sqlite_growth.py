"""SQLite's file stays bounded: big message bodies are never rewritten by leases or renewals, free pages go
back to the file system, the WAL is truncated when idle, an older file is converted to incremental
vacuum; and (every backend) outcome pruning removes everything past the cutoff in one call."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from lambdalite.clock import now_ms
from lambdalite.model.queue import AttemptEnd
from lambdalite.store.protocol import Store
from lambdalite.store.sqlite import queues
from lambdalite.store.sqlite.db import Database
from tests.support.records import create_function, outcome, queued_event, slot_of
from tests.support.server import wait_until

BODY = os.urandom(100_000)


def wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _fill(db: Database, count: int, body: bytes = BODY) -> None:
    def add(c: sqlite3.Connection) -> None:
        for i in range(count):
            queues.send(c, kind="lambda", queue="q", id=f"m{i}", body=body, at_ms=0)

    db.write_sync(add)


def test_leases_and_renewals_do_not_rewrite_big_bodies(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = Database(path, queues.SCHEMA)
    try:
        _fill(db, 200)
        wait_until(lambda: wal_bytes(path) == 0, what="the WAL truncated")  # idle: checkpointed and truncated
        leased = db.write_sync(lambda c: queues.lease(c, kind="lambda", lease_ms=60_000, limit=200, at_ms=1))
        db.write_sync(lambda c: queues.renew(c, [(m.id, m.receipt or "") for m in leased], 120_000))
        assert len(leased) == 200 and all(m.body == BODY for m in leased)
        assert wal_bytes(path) < 2_000_000  # 200 x 100 KB rewritten twice would be 40 MB
        assert db.read(lambda c: queues.get(c, "m7")).body == BODY  # type: ignore[union-attr]
    finally:
        db.close()


def test_a_deleted_message_takes_its_body_along_and_small_bodies_stay_inline(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite", queues.SCHEMA)
    try:
        _fill(db, 3)
        db.write_sync(lambda c: queues.send(c, kind="lambda", queue="q", id="small", body=b"tiny", at_ms=0))
        assert db.read_value("SELECT count(*) FROM message_bodies") == 3
        db.write_sync(lambda c: queues.delete(c, "m1"))
        db.write_sync(lambda c: queues.purge(c, "q"))
        assert db.read_value("SELECT count(*) FROM message_bodies") == 0
        db.write_sync(lambda c: queues.send(c, kind="lambda", queue="q", id="kept", body=BODY, at_ms=0,
                                            keep_existing=True))
        db.write_sync(lambda c: queues.send(c, kind="lambda", queue="q", id="kept", body=b"other" * 200, at_ms=0,
                                            keep_existing=True))
        assert db.read(lambda c: queues.get(c, "kept")).body == BODY  # type: ignore[union-attr]
        assert db.read_value("SELECT count(*) FROM message_bodies") == 1
    finally:
        db.close()


def test_free_pages_go_back_to_the_file_system_and_the_wal_is_truncated_when_idle(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = Database(path, queues.SCHEMA)
    try:
        assert db.read_value("PRAGMA auto_vacuum") == 2
        _fill(db, 300)  # 30 MB
        wait_until(lambda: wal_bytes(path) == 0, what="the WAL truncated")  # idle: checkpointed and truncated
        full_bytes = path.stat().st_size
        assert full_bytes > 25_000_000
        db.write_sync(lambda c: queues.purge(c, "q"))
        wait_until(lambda: path.stat().st_size < full_bytes / 4 and wal_bytes(path) == 0, what="the file given back")
    finally:
        db.close()


def test_an_older_file_is_converted_to_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    for statement in queues.SCHEMA[:3]:  # the messages table as older versions made it
        old.execute(statement)
    old.execute("INSERT INTO messages(kind, queue, id, body, sent_ms, visible_ms) VALUES ('lambda','q','old',?,0,0)",
                (BODY,))
    assert old.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    old.close()
    db = Database(path, queues.SCHEMA)
    try:
        assert db.read_value("PRAGMA auto_vacuum") == 2
        leased = db.write_sync(lambda c: queues.lease(c, kind="lambda", lease_ms=1000, limit=10, at_ms=1))
        assert [m.body for m in leased] == [BODY]  # a body stored inline by an older version still reads
    finally:
        db.close()


async def test_pruning_removes_every_outcome_past_the_cutoff_in_one_call(store: Store) -> None:
    await create_function(store, "f")
    count = 11_000  # more than two of SQLite's prune batches
    events = [queued_event("f") for _ in range(count)]
    await asyncio.gather(*(store.accept_event(event, b"{}") for event in events))
    ended_ms = now_ms() - 60_000
    by_id = {event.request_id: event for event in events}
    while True:
        leased = await store.lease_events(1000, 60_000)
        if not leased:
            break
        await asyncio.gather(*(store.finish_attempt(x.message, AttemptEnd(
            slot_of(x.claim), outcome=outcome(by_id[x.message.id], ended_ms=ended_ms))) for x in leased))
    assert await store.get_outcome(events[0].request_id) is not None
    assert await store.prune_outcomes(now_ms() - 1_000) == count
    assert await store.get_outcome(events[-1].request_id) is None


async def test_a_live_event_with_a_big_payload_shows_it_whole(store: Store) -> None:
    await create_function(store, "f")
    event = queued_event("f")
    payload = b'{"pad": "%s"}' % (b"x" * 5000)
    await store.accept_event(event, payload)
    detail = await store.get_event(event.request_id, now_ms())
    assert detail is not None and detail.payload == payload
    (leased,) = await store.lease_events(1, 60_000)
    assert leased.message.body == payload
