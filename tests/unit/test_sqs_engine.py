"""The queue-engine helpers SQS added: retention expiry, redrive move, a queue's next due time."""

from __future__ import annotations

import sqlite3

from lambdalite.store.sqlite import queues


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
