"""PostgreSQL only: what the backend adds for many nodes (migrations racing, wake-ups across nodes, group
commit, the shared secret and code archives), through its protocol and, where needed, its internals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lambdalite.clock import now_ms
from lambdalite.model.queue import AttemptEnd, NewMessage
from lambdalite.model.s3 import BucketRecord, ObjectRecord
from lambdalite.model.sqs import QueueRecord
from lambdalite.settings import Settings
from lambdalite.store.errors import StoreUnavailable
from lambdalite.store.postgres import PostgresStore
from lambdalite.store.postgres.migrate import migrate, migrate_url, migrations
from lambdalite.store.postgres.s3_bodies import ORPHAN_AGE_MS, READ_GRACE_MS
from lambdalite.wakeups import EVENTS, JOBS, Wakeups, sqs_topic
from tests.support import postgres
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.records import REGION, code_sha, create_function, queue_arn, queued_event

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")
WAKE_S = 10.0  # a generous bound for a NOTIFY to reach another node


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Backend]:
    opened = Backend("postgresql", tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database without lambdalite's schema (not copied from the migrated template)."""
    server = postgres.server()
    name = f"empty_{abs(hash(object()))}"
    server.sql(f"CREATE DATABASE {name}")
    url = server.url(name)
    yield url
    server.drop_database(url)


def _pg(store: Any) -> PostgresStore:
    assert isinstance(store, PostgresStore)
    return store


async def test_nodes_migrating_together_apply_each_migration_once(empty_database: str) -> None:
    applied = await asyncio.gather(*(migrate_url(empty_database) for _ in range(4)))
    names = [name for _, name, _ in migrations()]
    assert sorted(sum(applied, [])) == sorted(names)  # each file applied by exactly one of them
    conn = await asyncpg.connect(empty_database)
    try:
        recorded = [r[0] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()
    assert recorded == names
    assert await migrate_url(empty_database) == []  # a later start finds nothing to do


async def _woken(wakeups: Wakeups, topic: str, work: Callable[[], Awaitable[Any]]) -> None:
    arrival = wakeups.arrival(topic)
    await work()
    await asyncio.wait_for(arrival.wait(), WAKE_S)


async def test_work_committed_on_another_node_wakes_this_nodes_waiters(pg: Backend) -> None:
    mine, theirs = pg.open(), pg.open()
    wakeups = Wakeups()
    await mine.attach(wakeups)
    await create_function(theirs, "f")
    await _woken(wakeups, EVENTS, lambda: theirs.accept_event(queued_event("f"), b"{}"))
    job = NewMessage("delivery", "@delivery/f", "job-1", b"{}")
    await _woken(wakeups, JOBS, lambda: theirs.enqueue_jobs([job]))
    arn = queue_arn("q")
    await theirs.sqs_create_queue(QueueRecord(REGION, "q", arn, {}, {}, 0, 0))
    message = NewMessage("sqs", arn, "m-1", b"hello")
    await _woken(wakeups, sqs_topic(arn), lambda: theirs.sqs_send(arn, [message]))


async def test_another_nodes_configuration_change_drops_this_nodes_cache(pg: Backend) -> None:
    mine, theirs = pg.open(), pg.open()
    await mine.attach(Wakeups())
    await create_function(theirs, "f")
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    assert await mine.cached("k", load) == 1
    await theirs.set_reserved_concurrency("f", 2)

    async def dropped() -> bool:
        return await mine.cached("k", load) == 2

    await wait_for(dropped, WAKE_S, "the cache dropped on the notification")


def count_transactions(store: PostgresStore) -> list[bool]:
    """Every transaction the store starts from now on appends its `durable` flag to the list returned."""
    started: list[bool] = []
    write = store.db.write

    async def counted(fn: Any, *, durable: bool = True) -> Any:
        started.append(durable)
        return await write(fn, durable=durable)

    store.db.write = counted  # type: ignore[method-assign]
    return started


async def test_concurrent_accepts_share_commits(pg: Backend) -> None:
    store = _pg(pg.open())
    await create_function(store, "f")
    transactions = count_transactions(store)
    events = [queued_event("f") for _ in range(200)]
    await asyncio.gather(*(store.accept_event(e, b"{}") for e in events))
    assert len(transactions) < len(events) / 4, len(transactions)
    rows = await store.queue_report(0)
    assert [(r.function, r.queued + r.delayed) for r in rows] == [("f", 200)]


async def test_attempts_ending_together_share_commits(pg: Backend) -> None:
    store = _pg(pg.open())
    await create_function(store, "f")
    for _ in range(100):
        await store.accept_event(queued_event("f"), b"{}")
    leased = await store.lease_events(100, 30_000)
    transactions = count_transactions(store)
    ends = [AttemptEnd(x.claim if isinstance(x.claim, int) else None) for x in leased]
    assert await asyncio.gather(*(store.finish_attempt(x.message, e) for x, e in zip(leased, ends, strict=True))) \
        == [True] * 100
    assert len(transactions) < len(leased) / 4, len(transactions)
    assert await store.queue_report(0) == []


async def test_a_duplicate_request_id_fails_alone_in_its_batch(pg: Backend) -> None:
    store = pg.open()
    await create_function(store, "f")
    first = queued_event("f")
    await store.accept_event(first, b"{}")
    others = [queued_event("f") for _ in range(5)]
    results = await asyncio.gather(store.accept_event(first, b"{}"), *(store.accept_event(e, b"{}") for e in others),
                                   return_exceptions=True)
    assert isinstance(results[0], asyncpg.UniqueViolationError)
    assert results[1:] == [None] * 5


async def test_every_node_gets_the_first_nodes_secret(pg: Backend) -> None:
    one, two = pg.open(), pg.open()
    assert await one.shared_secret("minting", b"first") == b"first"
    assert await two.shared_secret("minting", b"second") == b"first"


async def test_code_archives_are_kept_until_no_version_uses_them(pg: Backend) -> None:
    store = pg.open()
    used, unused = b"zip bytes in use", b"zip bytes of nobody"
    await store.save_code(code_sha(used), used)
    await store.save_code(code_sha(unused), unused)
    await store.save_code(code_sha(used), used)  # saving again is harmless
    await create_function(store, "f", code=used)
    assert await store.load_code(code_sha(used)) == used
    await store.delete_code(code_sha(used))  # still $LATEST's: kept
    await store.delete_code(code_sha(unused))
    assert await store.load_code(code_sha(used)) == used
    assert await store.load_code(code_sha(unused)) is None


async def test_a_body_no_object_names_is_dropped_a_day_later(pg: Backend) -> None:
    """A request that kept a body and never committed the row naming it (a crash between the two) leaves
    an orphan; maintenance drops it after a day, and frees it after the read grace. Named bodies stay."""
    store = pg.open()
    await store.s3_create_bucket(BucketRecord("bkt", "us-east-1", 1))
    named = await store.s3_body_write_bytes(b"kept")
    orphan = await store.s3_body_write_bytes(b"lost")
    record = ObjectRecord("bkt", "k", 4, '"etag"', 1, named, "text/plain", {}, {})
    assert (await store.s3_put_object(record, [])).ok
    day_later = now_ms() + ORPHAN_AGE_MS + 1
    assert await store.s3_prune_bodies(day_later) == 0  # marked dropped now, freed after the grace
    assert await store.s3_body_open(orphan, 0, 4) is None
    assert await store.s3_prune_bodies(day_later + READ_GRACE_MS + 1) == 1
    chunks = await store.s3_body_open(named, 0, 4)
    assert chunks is not None and b"".join([c async for c in chunks]) == b"kept"


async def test_a_reader_on_a_database_without_this_versions_schema_says_so(empty_database: str, tmp_path: Path) -> None:
    """The CLI's read-only store never migrates: on a database no node of this version started on, it
    answers StoreUnavailable naming what to do (not an SQL error about a missing table)."""
    reader = PostgresStore(Settings(data_dir=tmp_path, store=empty_database), read_only=True)
    with pytest.raises(StoreUnavailable) as empty:
        await reader.list_log_groups()
    assert "no lambdalite schema yet" in empty.value.detail
    reader.close()
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
        newest = migrations()[-1][1]
        await conn.execute("DELETE FROM schema_migrations WHERE name = $1", newest)
    finally:
        await conn.close()
    reader = PostgresStore(Settings(data_dir=tmp_path, store=empty_database), read_only=True)
    with pytest.raises(StoreUnavailable) as older:
        await reader.list_log_groups()
    assert f"older than this version (missing {newest})" in older.value.detail
    reader.close()
