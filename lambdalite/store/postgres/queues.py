"""The queue engine on PostgreSQL (see store/sqlite/queues.py for its model): SQS-style messages with
visibility, for async events (kind "lambda"), SQS queues (kind "sqs") and delivery jobs.

Every function takes a connection inside the caller's transaction. Leasing uses FOR UPDATE SKIP LOCKED,
so dispatchers of many nodes lease disjoint messages without waiting for each other. Work that another
node may be sleeping on is announced with `notify(conn, topic)` (NOTIFY is delivered at COMMIT).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from lambdalite.clock import now_ms
from lambdalite.model.queue import Message, QueueCounts

CHANNEL = "lambdalite"
_COLUMNS = "seq, kind, queue, id, body, attrs, sent_ms, visible_ms, receive_count, first_receive_ms, receipt"
# 20 hex digits, like SQLite's lower(hex(randomblob(10))) (SQS receipt handles carry exactly that)
_RECEIPT = "left(replace(gen_random_uuid()::text, '-', ''), 20)"
Conn: TypeAlias = Any  # asyncpg.Connection (asyncpg ships no type hints)


def _row(row: Any) -> Message:
    return Message(*row)


async def notify(conn: Conn, topic: str) -> None:
    """Wake every node's waiters on `topic` (wakeups.py's names) once this transaction commits."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)


async def send(conn: Conn, *, kind: str, queue: str, id: str, body: bytes, attrs: bytes | None = None,
               delay_ms: int = 0, at_ms: int | None = None, keep_existing: bool = False) -> None:
    sent = now_ms() if at_ms is None else at_ms
    await conn.execute(
        "INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms) VALUES ($1,$2,$3,$4,$5,$6,$7)"
        + (" ON CONFLICT (id) DO NOTHING" if keep_existing else ""),
        kind, queue, id, body, attrs, sent, sent + delay_ms,
    )


async def send_many(conn: Conn, rows: list[tuple[str, str, str, bytes, bytes | None, int, int]],
                    *, keep_existing: bool = False) -> None:
    """Insert (kind, queue, id, body, attrs, sent_ms, visible_ms) rows in one statement."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        """INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bigint[],
                                $7::bigint[])"""
        + (" ON CONFLICT (id) DO NOTHING" if keep_existing else ""),
        *[list(c) for c in columns],
    )


async def send_leased(conn: Conn, *, kind: str, queue: str, id: str, body: bytes, attrs: bytes | None,
                      at_ms: int, lease_ms: int, receipt: str) -> Message:
    """Insert a message already leased by its sender (direct dispatch), as `lease` would have left it."""
    seq = await conn.fetchval(
        "INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms, receive_count, first_receive_ms,"
        " receipt, leased) VALUES ($1,$2,$3,$4,$5,$6,$7,1,$8,$9,true) RETURNING seq",
        kind, queue, id, body, attrs, at_ms, at_ms + lease_ms, at_ms, receipt,
    )
    return Message(int(seq), kind, queue, id, body, attrs, at_ms, at_ms + lease_ms, 1, at_ms, receipt)


async def lease(conn: Conn, *, lease_ms: int, limit: int, queue: str | None = None, kind: str | None = None,
                at_ms: int | None = None) -> list[Message]:
    """Claim up to `limit` due messages of one queue (or of every queue of a kind); rows another node is
    leasing right now are skipped, not waited for."""
    now = now_ms() if at_ms is None else at_ms
    column, value = ("queue", queue) if queue is not None else ("kind", kind)
    rows = await conn.fetch(
        f"""WITH due AS (SELECT seq FROM messages WHERE {column} = $1 AND visible_ms <= $2
                         ORDER BY visible_ms LIMIT $3 FOR UPDATE SKIP LOCKED)
            UPDATE messages m SET visible_ms = $4, receive_count = m.receive_count + 1,
                first_receive_ms = coalesce(m.first_receive_ms, $2), receipt = {_RECEIPT}, leased = true
            FROM due WHERE m.seq = due.seq
            RETURNING {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))}""",
        value, now, limit, now + lease_ms,
    )
    messages = [_row(r) for r in rows]
    messages.sort(key=lambda m: m.seq)
    return messages


async def delete(conn: Conn, id: str, receipt: str | None = None) -> bool:
    if receipt is None:
        status = await conn.execute("DELETE FROM messages WHERE id = $1", id)
    else:
        status = await conn.execute("DELETE FROM messages WHERE id = $1 AND receipt = $2", id, receipt)
    return affected(status) > 0


async def reschedule(conn: Conn, id: str, receipt: str | None, *, visible_ms: int, attrs: bytes | None = None,
                     release: bool = True) -> bool:
    sets = "visible_ms = $1" + (", leased = false, receipt = NULL" if release else "")
    params: list[object] = [visible_ms, id]
    if attrs is not None:
        params.append(attrs)
        sets += f", attrs = ${len(params)}"
    where = "id = $2"
    if receipt is not None:
        params.append(receipt)
        where += f" AND receipt = ${len(params)}"
    return affected(await conn.execute(f"UPDATE messages SET {sets} WHERE {where}", *params)) > 0


async def delete_many(conn: Conn, leases: list[tuple[str, str | None]]) -> set[tuple[str, str | None]]:
    """Delete each (id, receipt) still held under that receipt (None: whoever holds it); the pairs deleted."""
    if not leases:
        return set()
    ids, receipts = zip(*leases, strict=True)
    rows = await conn.fetch(
        """DELETE FROM messages m USING unnest($1::text[], $2::text[]) AS d(id, receipt)
           WHERE m.id = d.id AND (d.receipt IS NULL OR m.receipt = d.receipt) RETURNING d.id, d.receipt""",
        list(ids), list(receipts))
    return {(r[0], r[1]) for r in rows}


async def reschedule_many(conn: Conn, changes: list[tuple[str, str | None, int, bytes | None]]
                          ) -> set[tuple[str, str | None]]:
    """Hand back each (id, receipt, visible_ms, attrs or None to keep them) still held under that receipt,
    due at visible_ms; the (id, receipt) pairs changed."""
    if not changes:
        return set()
    ids, receipts, visible, attrs = zip(*changes, strict=True)
    rows = await conn.fetch(
        """UPDATE messages m SET visible_ms = r.visible_ms, leased = false, receipt = NULL,
               attrs = coalesce(r.attrs, m.attrs)
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[]) AS r(id, receipt, visible_ms, attrs)
           WHERE m.id = r.id AND (r.receipt IS NULL OR m.receipt = r.receipt) RETURNING r.id, r.receipt""",
        list(ids), list(receipts), list(visible), list(attrs))
    return {(r[0], r[1]) for r in rows}


async def renew(conn: Conn, leases: list[tuple[str, str]], visible_ms: int) -> int:
    if not leases:
        return 0
    ids, receipts = zip(*leases, strict=True)
    status = await conn.execute(
        """UPDATE messages m SET visible_ms = $1 FROM unnest($2::text[], $3::text[]) AS l(id, receipt)
           WHERE m.id = l.id AND m.receipt = l.receipt""",
        visible_ms, list(ids), list(receipts),
    )
    return affected(status)


async def get(conn: Conn, id: str) -> Message | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM messages WHERE id = $1", id)
    return _row(row) if row else None


async def purge(conn: Conn, queue: str) -> int:
    return affected(await conn.execute("DELETE FROM messages WHERE queue = $1", queue))


async def counts(conn: Conn, queue: str, at_ms: int | None = None) -> QueueCounts:
    now = now_ms() if at_ms is None else at_ms
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE visible_ms <= $1),
                  count(*) FILTER (WHERE visible_ms > $1 AND leased),
                  count(*) FILTER (WHERE visible_ms > $1 AND NOT leased),
                  min(sent_ms)
           FROM messages WHERE queue = $2""",
        now, queue,
    )
    assert row is not None
    return QueueCounts(int(row[0]), int(row[1]), int(row[2]), row[3])


async def queues_of_kind(conn: Conn, kind: str) -> list[str]:
    return [r[0] for r in await conn.fetch("SELECT DISTINCT queue FROM messages WHERE kind = $1", kind)]


async def next_due_ms(conn: Conn, *, kind: str) -> int | None:
    value = await conn.fetchval("SELECT min(visible_ms) FROM messages WHERE kind = $1", kind)
    return None if value is None else int(value)


async def expire(conn: Conn, queue: str, sent_before_ms: int) -> int:
    return affected(await conn.execute("DELETE FROM messages WHERE queue = $1 AND sent_ms < $2", queue,
                                       sent_before_ms))


async def move(conn: Conn, id: str, queue: str, *, visible_ms: int, attrs: bytes | None = None) -> bool:
    sets = "queue = $1, visible_ms = $2, receive_count = 0, first_receive_ms = NULL, receipt = NULL, leased = false"
    params: list[object] = [queue, visible_ms, id]
    if attrs is not None:
        params.append(attrs)
        sets += ", attrs = $4"
    return affected(await conn.execute(f"UPDATE messages SET {sets} WHERE id = $3", *params)) > 0


async def queue_next_due_ms(conn: Conn, queue: str) -> int | None:
    value = await conn.fetchval("SELECT min(visible_ms) FROM messages WHERE queue = $1", queue)
    return None if value is None else int(value)


def affected(status: str) -> int:
    """Rows touched, from a command status such as 'UPDATE 3' or 'INSERT 0 1'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
