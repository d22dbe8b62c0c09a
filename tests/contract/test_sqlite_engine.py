"""SQLite only: the engine functions behind the SQLite backend, called with a connection (the queue
engine: send, lease with visibility, reschedule, renew, delete, counts, expiry, redrive moves; the slot
accounting). Backend-independent behaviour is tested through the Store protocol in the other files."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lambdalite.model.queue import Message
from lambdalite.store.sqlite import functions, queues, slots
from lambdalite.store.sqlite.db import Database

T = TypeVar("T")
NOW = 1_800_000_000_000


class Engine:
    """Runs queue-engine calls through the real group-committing writer."""

    def __init__(self, db: Database):
        self.db = db

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.db.write_sync(lambda c: fn(c, *args, **kwargs))

    def send(self, id: str, queue: str = "q", at_ms: int = NOW, **kw: Any) -> None:
        self(queues.send, kind=kw.pop("kind", "lambda"), queue=queue, id=id, body=b"body-" + id.encode(),
             at_ms=at_ms, **kw)

    def lease(self, at_ms: int = NOW, lease_ms: int = 1000, limit: int = 10, **kw: Any) -> list[Message]:
        if "queue" not in kw and "kind" not in kw:
            kw["queue"] = "q"
        return self(queues.lease, lease_ms=lease_ms, limit=limit, at_ms=at_ms, **kw)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    db = Database(tmp_path / "q.db", queues.SCHEMA)
    yield Engine(db)
    db.close()


def test_send_then_lease_returns_message_with_body_and_attrs(engine: Engine) -> None:
    engine.send("a", attrs=b'{"x":1}')
    (msg,) = engine.lease()
    assert (msg.id, msg.body, msg.attrs, msg.queue, msg.kind) == ("a", b"body-a", b'{"x":1}', "q", "lambda")
    assert msg.receive_count == 1 and msg.first_receive_ms == NOW and msg.receipt
    assert msg.visible_ms == NOW + 1000


def test_leased_message_is_invisible_until_lease_ends(engine: Engine) -> None:
    engine.send("a")
    assert len(engine.lease()) == 1
    assert engine.lease(at_ms=NOW + 999) == []
    (again,) = engine.lease(at_ms=NOW + 1000)
    assert again.receive_count == 2 and again.first_receive_ms == NOW


def test_new_lease_gets_new_receipt_and_old_receipt_is_stale(engine: Engine) -> None:
    engine.send("a")
    (first,) = engine.lease()
    (second,) = engine.lease(at_ms=NOW + 2000)
    assert first.receipt != second.receipt
    assert not engine(queues.delete, "a", first.receipt)
    assert not engine(queues.reschedule, "a", first.receipt, visible_ms=NOW)
    assert engine(queues.delete, "a", second.receipt)
    assert engine(queues.get, "a") is None


def test_delayed_message_not_due_before_its_time(engine: Engine) -> None:
    engine.send("a", delay_ms=500)
    assert engine.lease() == []
    assert [m.id for m in engine.lease(at_ms=NOW + 500)] == ["a"]


def test_lease_limit_and_due_order(engine: Engine) -> None:
    for i, delay in enumerate([30, 10, 20, 0]):
        engine.send(f"m{i}", delay_ms=delay)
    leased = engine.lease(at_ms=NOW + 100, limit=2)
    assert {m.id for m in leased} == {"m3", "m1"}
    assert {m.id for m in engine.lease(at_ms=NOW + 100, limit=10)} == {"m0", "m2"}


def test_lease_by_queue_and_by_kind(engine: Engine) -> None:
    engine.send("a", queue="q1")
    engine.send("b", queue="q2")
    engine.send("c", queue="other", kind="sqs")
    assert [m.id for m in engine.lease(queue="q2")] == ["b"]
    assert [m.id for m in engine.lease(kind="lambda")] == ["a"]
    assert [m.id for m in engine.lease(kind="sqs")] == ["c"]


def test_duplicate_id_is_refused(engine: Engine) -> None:
    engine.send("a")
    with pytest.raises(sqlite3.IntegrityError):
        engine.send("a")


def test_reschedule_releases_lease_and_stores_attrs(engine: Engine) -> None:
    engine.send("a", attrs=b"old")
    (msg,) = engine.lease()
    assert engine(queues.reschedule, "a", msg.receipt, visible_ms=NOW + 5000, attrs=b"new")
    stored = engine(queues.get, "a")
    assert stored is not None and stored.attrs == b"new" and stored.receipt is None
    counts = engine(queues.counts, "q", at_ms=NOW + 1)
    assert (counts.visible, counts.in_flight, counts.delayed) == (0, 0, 1)
    assert engine.lease(at_ms=NOW + 4999) == []
    (again,) = engine.lease(at_ms=NOW + 5000)
    assert again.attrs == b"new"


def test_reschedule_without_release_keeps_lease(engine: Engine) -> None:
    engine.send("a")
    (msg,) = engine.lease()
    assert engine(queues.reschedule, "a", msg.receipt, visible_ms=NOW + 9000, release=False)
    counts = engine(queues.counts, "q", at_ms=NOW + 1)
    assert (counts.in_flight, counts.delayed) == (1, 0)
    assert engine(queues.delete, "a", msg.receipt)


def test_renew_extends_only_current_leases(engine: Engine) -> None:
    engine.send("a")
    engine.send("b")
    leased = {m.id: m for m in engine.lease()}
    held = [("a", leased["a"].receipt or ""), ("b", "stale-receipt")]
    assert engine(queues.renew, held, NOW + 10_000) == 1
    assert [m.id for m in engine.lease(at_ms=NOW + 5000, lease_ms=60_000)] == ["b"]
    assert [m.id for m in engine.lease(at_ms=NOW + 10_000)] == ["a"]


def test_counts_and_oldest(engine: Engine) -> None:
    engine.send("due", at_ms=NOW - 50)
    engine.send("leased", at_ms=NOW - 10)
    engine.send("later", at_ms=NOW, delay_ms=60_000)
    engine(queues.lease, queue="q", lease_ms=1000, limit=1, at_ms=NOW - 10)  # leases "due" (earliest)
    counts = engine(queues.counts, "q", at_ms=NOW)
    assert (counts.visible, counts.in_flight, counts.delayed, counts.oldest_sent_ms) == (1, 1, 1, NOW - 50)
    empty = engine(queues.counts, "nothing", at_ms=NOW)
    assert (empty.visible, empty.in_flight, empty.delayed, empty.oldest_sent_ms) == (0, 0, 0, None)


def test_next_due_and_queues_of_kind(engine: Engine) -> None:
    assert engine(queues.next_due_ms, kind="lambda") is None
    engine.send("a", queue="q1", delay_ms=300)
    engine.send("b", queue="q2", delay_ms=100)
    assert engine(queues.next_due_ms, kind="lambda") == NOW + 100
    assert sorted(engine(queues.queues_of_kind, "lambda")) == ["q1", "q2"]


def test_purge_empties_one_queue(engine: Engine) -> None:
    engine.send("a", queue="q1")
    engine.send("b", queue="q2")
    assert engine(queues.purge, "q1") == 1
    assert [m.id for m in engine.lease(kind="lambda")] == ["b"]


def test_concurrent_consumers_never_share_a_message(engine: Engine) -> None:
    for i in range(200):
        engine.send(f"m{i}")
    got: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        while True:
            batch = engine.lease(limit=7, lease_ms=60_000)
            if not batch:
                return
            with lock:
                got.extend(m.id for m in batch)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(f"m{i}" for i in range(200))


def test_failed_write_in_a_batch_leaves_no_trace(engine: Engine) -> None:
    def half_then_fail(conn: sqlite3.Connection) -> None:
        queues.send(conn, kind="lambda", queue="q", id="half", body=b"", at_ms=NOW)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        engine.db.write_sync(half_then_fail)
    assert engine(queues.get, "half") is None


# ---- the helpers SQS added: retention expiry, redrive move, a queue's next due time ------------------


def _conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in queues.SCHEMA:
        conn.execute(statement)
    return conn


def test_expire_drops_only_messages_sent_before_the_cutoff() -> None:
    conn = _conn()
    queues.send(conn, kind="sqs", queue="q", id="old", body=b"1", at_ms=1_000)
    queues.send(conn, kind="sqs", queue="q", id="new", body=b"2", at_ms=5_000)
    queues.send(conn, kind="sqs", queue="other", id="elsewhere", body=b"3", at_ms=1_000)
    assert queues.expire(conn, "q", sent_before_ms=2_000) == 1
    assert queues.get(conn, "old") is None
    assert queues.get(conn, "new") is not None
    assert queues.get(conn, "elsewhere") is not None


def test_move_hands_a_leased_message_to_another_queue_fresh() -> None:
    conn = _conn()
    queues.send(conn, kind="sqs", queue="src", id="m", body=b"x", at_ms=1_000)
    leased = queues.lease(conn, lease_ms=30_000, limit=1, queue="src", at_ms=2_000)
    assert leased[0].receive_count == 1
    assert queues.move(conn, "m", "dlq", visible_ms=2_000, attrs=b"{}")
    moved = queues.get(conn, "m")
    assert moved is not None
    assert (moved.queue, moved.receive_count, moved.receipt, moved.visible_ms, moved.sent_ms) == (
        "dlq", 0, None, 2_000, 1_000)
    assert queues.lease(conn, lease_ms=1, limit=1, queue="dlq", at_ms=2_000)[0].id == "m"


def test_queue_next_due_ms() -> None:
    conn = _conn()
    assert queues.queue_next_due_ms(conn, "q") is None
    queues.send(conn, kind="sqs", queue="q", id="a", body=b"1", at_ms=1_000, delay_ms=500)
    queues.send(conn, kind="sqs", queue="q", id="b", body=b"1", at_ms=1_000, delay_ms=100)
    assert queues.queue_next_due_ms(conn, "q") == 1_100


# ---- slot accounting ----------------------------------------------------------------------------------

NOW_MS = 1_000_000


def slots_db(reserved: dict[str, int | None]) -> sqlite3.Connection:
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
    conn = slots_db({"r": 2})
    got = take(conn, [("r", 2)] * 3)
    assert [isinstance(x, int) for x in got] == [True, True, False]
    assert got[2] == slots.FUNCTION_LIMIT


def test_unreserved_functions_share_the_account_limit_less_reservations() -> None:
    conn = slots_db({"a": None, "b": None, "r": 5})
    got = take(conn, [("a", None), ("b", None), ("a", None), ("b", None)], account=8, floor=5)
    assert got[3] == slots.ACCOUNT_LIMIT and all(isinstance(x, int) for x in got[:3])
    assert take(conn, [("r", 5)])[0] != slots.FUNCTION_LIMIT  # the reservation is untouched


def test_single_acquire_and_release_and_expiry() -> None:
    conn = slots_db({"r": 1})
    first = slots.acquire(conn, function="r", reserved=1, account_limit=10, unreserved_floor=0, holder="h",
                          now_ms=NOW_MS, ttl_ms=1000)
    assert isinstance(first, int)
    assert take(conn, [("r", 1)]) == [slots.FUNCTION_LIMIT]
    slots.release(conn, first)
    assert isinstance(take(conn, [("r", 1)])[0], int)
    assert isinstance(take(conn, [("r", 1)], now_ms=NOW_MS + 5000)[0], int)  # the held one lapsed
