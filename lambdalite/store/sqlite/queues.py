"""The one queue engine: SQS-style messages with visibility, used by the internal per-function event
queues (kind "lambda"), SQS-compatible queues (kind "sqs") and destination deliveries (kind "delivery").

A received message is leased: it becomes invisible until `visible_ms`; the holder deletes it, moves its
due time (a retry), or lets the lease lapse so another consumer gets it again (at-least-once).
Every function here takes the writer's connection and runs inside its group-committed transaction, so
callers can combine several steps (finish an event + enqueue its deliveries) atomically.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from lambdalite.clock import now_ms
from lambdalite.model.queue import Message, QueueCounts

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        queue TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        body BLOB NOT NULL,
        attrs BLOB,
        sent_ms INTEGER NOT NULL,
        visible_ms INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_receive_ms INTEGER,
        receipt TEXT,
        leased INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS messages_queue_due ON messages(queue, visible_ms)",
    "CREATE INDEX IF NOT EXISTS messages_kind_due ON messages(kind, visible_ms)",
    # Bodies past INLINE_BODY_MAX_BYTES live here, never rewritten: SQLite rewrites a whole row on any
    # UPDATE, so a lease or renewal of a row carrying 100 KB wrote those 100 KB to the WAL again.
    "CREATE TABLE IF NOT EXISTS message_bodies (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS messages_drop_body AFTER DELETE ON messages
       BEGIN DELETE FROM message_bodies WHERE seq = OLD.seq; END""",
]

# Up to this size a body stays in its message's row: one insert instead of two, and rewriting a few
# hundred bytes with the row on a lease costs less than the second b-tree (bench/accept_inprocess.py).
INLINE_BODY_MAX_BYTES = 512
# A message's body wherever it is kept (for any SELECT ... FROM messages).
BODY = "coalesce((SELECT b.body FROM message_bodies b WHERE b.seq = messages.seq), messages.body)"
_COLUMNS = f"seq, kind, queue, id, {BODY}, attrs, sent_ms, visible_ms, receive_count, first_receive_ms, receipt"


def _keep_body(conn: sqlite3.Connection, cur: sqlite3.Cursor, body: bytes) -> None:
    """After a message's insert: its body, when not inline, in its own row (keyed by the message's seq)."""
    if len(body) > INLINE_BODY_MAX_BYTES and cur.rowcount > 0:
        conn.execute("INSERT INTO message_bodies(seq, body) VALUES (?, ?)", (cur.lastrowid, body))


def _inline(body: bytes) -> bytes:
    return body if len(body) <= INLINE_BODY_MAX_BYTES else b""


def _row(row: tuple[Any, ...]) -> Message:
    return Message(*row)


def send(
    conn: sqlite3.Connection,
    *,
    kind: str,
    queue: str,
    id: str,
    body: bytes,
    attrs: bytes | None = None,
    delay_ms: int = 0,
    at_ms: int | None = None,
    keep_existing: bool = False,
) -> None:
    """Insert a message; `keep_existing`: a message with that id already queued stays as it is."""
    sent = now_ms() if at_ms is None else at_ms
    cur = conn.execute(
        "INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms) VALUES (?,?,?,?,?,?,?)"
        + (" ON CONFLICT(id) DO NOTHING" if keep_existing else ""),
        (kind, queue, id, _inline(body), attrs, sent, sent + delay_ms),
    )
    _keep_body(conn, cur, body)


def send_leased(
    conn: sqlite3.Connection,
    *,
    kind: str,
    queue: str,
    id: str,
    body: bytes,
    attrs: bytes | None,
    at_ms: int,
    lease_ms: int,
    receipt: str,
) -> Message:
    """Insert a message already leased by its sender, as `lease` would have left it: a consumer in the
    same process takes it at once, and if that consumer dies the lease lapses like any other."""
    cur = conn.execute(
        "INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms, receive_count, first_receive_ms,"
        " receipt, leased) VALUES (?,?,?,?,?,?,?,1,?,?,1)",
        (kind, queue, id, _inline(body), attrs, at_ms, at_ms + lease_ms, at_ms, receipt),
    )
    _keep_body(conn, cur, body)
    return Message(int(cur.lastrowid or 0), kind, queue, id, body, attrs, at_ms, at_ms + lease_ms, 1, at_ms, receipt)


def lease(
    conn: sqlite3.Connection,
    *,
    lease_ms: int,
    limit: int,
    queue: str | None = None,
    kind: str | None = None,
    at_ms: int | None = None,
) -> list[Message]:
    """Claim up to `limit` due messages of one queue (or of every queue of a kind)."""
    now = now_ms() if at_ms is None else at_ms
    column, value = ("queue", queue) if queue is not None else ("kind", kind)
    rows = conn.execute(
        f"""UPDATE messages SET visible_ms = ?, receive_count = receive_count + 1,
                first_receive_ms = coalesce(first_receive_ms, ?), receipt = lower(hex(randomblob(10))), leased = 1
            WHERE seq IN (SELECT seq FROM messages WHERE {column} = ? AND visible_ms <= ?
                          ORDER BY visible_ms LIMIT ?)
            RETURNING {_COLUMNS}""",
        (now + lease_ms, now, value, now, limit),
    ).fetchall()
    messages = [_row(r) for r in rows]
    messages.sort(key=lambda m: m.seq)
    return messages


def delete(conn: sqlite3.Connection, id: str, receipt: str | None = None) -> bool:
    """Remove a message; with a receipt, only if it is still the current lease's."""
    if receipt is None:
        cur = conn.execute("DELETE FROM messages WHERE id = ?", (id,))
    else:
        cur = conn.execute("DELETE FROM messages WHERE id = ? AND receipt = ?", (id, receipt))
    return cur.rowcount > 0


def reschedule(
    conn: sqlite3.Connection,
    id: str,
    receipt: str | None,
    *,
    visible_ms: int,
    attrs: bytes | None = None,
    release: bool = True,
) -> bool:
    """Move a leased message's due time (a retry, or SQS ChangeMessageVisibility); optionally new attrs.

    `release` ends the lease (the message counts as delayed, not in flight, until due).
    """
    sets = "visible_ms = ?" + (", leased = 0, receipt = NULL" if release else "")
    params: list[object] = [visible_ms]
    if attrs is not None:
        sets += ", attrs = ?"
        params.append(attrs)
    where = "id = ?" + (" AND receipt = ?" if receipt is not None else "")
    params.append(id)
    if receipt is not None:
        params.append(receipt)
    return conn.execute(f"UPDATE messages SET {sets} WHERE {where}", params).rowcount > 0


def renew(conn: sqlite3.Connection, leases: list[tuple[str, str]], visible_ms: int) -> int:
    """Extend many leases (id, receipt) at once; returns how many were still held."""
    cur = conn.executemany(
        "UPDATE messages SET visible_ms = ? WHERE id = ? AND receipt = ?",
        [(visible_ms, id, receipt) for id, receipt in leases],
    )
    return cur.rowcount


def get(conn: sqlite3.Connection, id: str) -> Message | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (id,)).fetchone()
    return _row(row) if row else None


def purge(conn: sqlite3.Connection, queue: str) -> int:
    return conn.execute("DELETE FROM messages WHERE queue = ?", (queue,)).rowcount


def counts(conn: sqlite3.Connection, queue: str, at_ms: int | None = None) -> QueueCounts:
    now = now_ms() if at_ms is None else at_ms
    row = conn.execute(
        """SELECT coalesce(sum(visible_ms <= ?), 0),
                  coalesce(sum(visible_ms > ? AND leased = 1), 0),
                  coalesce(sum(visible_ms > ? AND leased = 0), 0),
                  min(sent_ms)
           FROM messages WHERE queue = ?""",
        (now, now, now, queue),
    ).fetchone()
    return QueueCounts(int(row[0]), int(row[1]), int(row[2]), row[3])


def queues_of_kind(conn: sqlite3.Connection, kind: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT queue FROM messages WHERE kind = ?", (kind,))]


def next_due_ms(conn: sqlite3.Connection, *, kind: str) -> int | None:
    """When the earliest message of a kind becomes due (for a sleeping consumer)."""
    row = conn.execute("SELECT min(visible_ms) FROM messages WHERE kind = ?", (kind,)).fetchone()
    return row[0] if row else None


def expire(conn: sqlite3.Connection, queue: str, sent_before_ms: int) -> int:
    """Drop a queue's messages sent before `sent_before_ms` (SQS MessageRetentionPeriod)."""
    return conn.execute("DELETE FROM messages WHERE queue = ? AND sent_ms < ?", (queue, sent_before_ms)).rowcount


def move(conn: sqlite3.Connection, id: str, queue: str, *, visible_ms: int, attrs: bytes | None = None) -> bool:
    """Hand a message to another queue as a fresh, unleased message (SQS redrive to a dead-letter queue)."""
    sets = "queue = ?, visible_ms = ?, receive_count = 0, first_receive_ms = NULL, receipt = NULL, leased = 0"
    params: list[object] = [queue, visible_ms]
    if attrs is not None:
        sets += ", attrs = ?"
        params.append(attrs)
    params.append(id)
    return conn.execute(f"UPDATE messages SET {sets} WHERE id = ?", params).rowcount > 0


def queue_next_due_ms(conn: sqlite3.Connection, queue: str) -> int | None:
    """When the earliest message of one queue is (or becomes) visible; None when the queue is empty."""
    row = conn.execute("SELECT min(visible_ms) FROM messages WHERE queue = ?", (queue,)).fetchone()
    return row[0] if row else None
