"""SQS queue metadata: one row per queue (region, name, ARN, attributes, tags, times).

Messages themselves live in the shared queue engine (queues.py, kind "sqs", queue = the queue's ARN),
so every function here takes a connection and can join the caller's transaction (create + purge, ...).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.model.queue import Message, NewMessage, QueueCounts
from lambdalite.model.sqs import QueueRecord, VisibilityChange
from lambdalite.store.sqlite import queues

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS sqs_queues (
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        attrs BLOB NOT NULL,
        tags BLOB NOT NULL,
        created_s INTEGER NOT NULL,
        modified_s INTEGER NOT NULL,
        PRIMARY KEY (region, name)
    )""",
]

_COLUMNS = "region, name, arn, attrs, tags, created_s, modified_s"


def _record(row: tuple[Any, ...]) -> QueueRecord:
    region, name, arn, attrs, tags, created_s, modified_s = row
    return QueueRecord(region, name, arn, orjson.loads(attrs), orjson.loads(tags), created_s, modified_s)


def get(conn: sqlite3.Connection, region: str, name: str) -> QueueRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM sqs_queues WHERE region = ? AND name = ?", (region, name)).fetchone()
    return _record(row) if row else None


def get_by_arn(conn: sqlite3.Connection, arn: str) -> QueueRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM sqs_queues WHERE arn = ?", (arn,)).fetchone()
    return _record(row) if row else None


def insert(conn: sqlite3.Connection, record: QueueRecord) -> None:
    conn.execute(
        f"INSERT INTO sqs_queues({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
        (
            record.region,
            record.name,
            record.arn,
            orjson.dumps(record.attrs),
            orjson.dumps(record.tags),
            record.created_s,
            record.modified_s,
        ),
    )


def update_attrs(conn: sqlite3.Connection, arn: str, attrs: dict[str, str], modified_s: int) -> bool:
    cur = conn.execute(
        "UPDATE sqs_queues SET attrs = ?, modified_s = ? WHERE arn = ?", (orjson.dumps(attrs), modified_s, arn)
    )
    return cur.rowcount > 0


def update_tags(conn: sqlite3.Connection, arn: str, tags: dict[str, str]) -> bool:
    return conn.execute("UPDATE sqs_queues SET tags = ? WHERE arn = ?", (orjson.dumps(tags), arn)).rowcount > 0


def delete(conn: sqlite3.Connection, arn: str) -> bool:
    return conn.execute("DELETE FROM sqs_queues WHERE arn = ?", (arn,)).rowcount > 0


def list_names(conn: sqlite3.Connection, region: str, prefix: str = "", after: str = "", limit: int = 1000) -> list[str]:
    """Queue names of a region, sorted, starting with `prefix`, strictly after `after` (paging)."""
    rows = conn.execute(
        "SELECT name FROM sqs_queues WHERE region = ? AND substr(name, 1, ?) = ? AND name > ? ORDER BY name LIMIT ?",
        (region, len(prefix), prefix, after, limit),
    ).fetchall()
    return [r[0] for r in rows]


def all_records(conn: sqlite3.Connection, region: str) -> list[QueueRecord]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM sqs_queues WHERE region = ? ORDER BY name", (region,)).fetchall()
    return [_record(r) for r in rows]


def lease_batch(conn: sqlite3.Connection, arn: str, *, retention_s: int, redrive: tuple[str, int] | None,
                limit: int, visibility_ms: int) -> list[Message]:
    """Expire old messages, lease up to `limit`, and move the over-received ones to the dead-letter queue."""
    now = now_ms()
    queues.expire(conn, arn, now - retention_s * 1000)
    dlq = get_by_arn(conn, redrive[0]) if redrive else None
    out: list[Message] = []
    while len(out) < limit:
        leased = queues.lease(conn, lease_ms=visibility_ms, limit=limit - len(out), queue=arn, at_ms=now)
        moved = 0
        for message in leased:
            if redrive and dlq is not None and message.receive_count > redrive[1]:
                meta = orjson.loads(message.attrs or b"{}")
                meta["src"] = arn
                queues.move(conn, message.id, dlq.arn, visible_ms=now, attrs=orjson.dumps(meta))
                moved += 1
            else:
                out.append(message)
        if not moved or visibility_ms == 0:
            break
    return out


def change_visibility(conn: sqlite3.Connection, arn: str, change: VisibilityChange) -> str:
    message = queues.get(conn, change.message_id)
    now = now_ms()
    if message is None or message.queue != arn:
        return "missing"
    if message.receipt != change.receipt or message.visible_ms <= now:
        return "not_in_flight"
    queues.reschedule(conn, change.message_id, change.receipt, visible_ms=now + change.timeout_s * 1000,
                      release=False)
    return "ok"


def delete_messages(conn: sqlite3.Connection, arn: str, message_ids: list[str]) -> None:
    for message_id in message_ids:
        message = queues.get(conn, message_id)
        if message is not None and message.queue == arn:
            queues.delete(conn, message_id)


class SqsStore:
    """SQS queues and their messages (kind "sqs" of the queue engine, queue = the queue's ARN)."""

    db: Database

    async def sqs_queue(self, region: str, name: str) -> QueueRecord | None:
        return self.db.read(lambda c: get(c, region, name))

    async def sqs_queue_by_arn(self, arn: str) -> QueueRecord | None:
        return self.db.read(lambda c: get_by_arn(c, arn))

    async def sqs_list_names(self, region: str, prefix: str, after: str, limit: int) -> list[str]:
        return self.db.read(lambda c: list_names(c, region, prefix, after, limit))

    async def sqs_queues(self, region: str) -> list[QueueRecord]:
        return self.db.read(lambda c: all_records(c, region))

    async def sqs_create_queue(self, record: QueueRecord) -> QueueRecord | None:
        def write(c: sqlite3.Connection) -> QueueRecord | None:
            existing = get(c, record.region, record.name)
            if existing is None:
                insert(c, record)
            return existing

        return await self.db.write(write)

    async def sqs_delete_queue(self, arn: str) -> None:
        def write(c: sqlite3.Connection) -> None:
            delete(c, arn)
            queues.purge(c, arn)

        await self.db.write(write)

    async def sqs_purge(self, arn: str) -> int:
        return await self.db.write(lambda c: queues.purge(c, arn))

    async def sqs_set_attributes(self, arn: str, settable: dict[str, str], modified_s: int) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            current = get_by_arn(c, arn)
            if current is None:
                return False
            merged = {k: v for k, v in {**current.attrs, **settable}.items() if v != ""}
            return update_attrs(c, arn, merged, modified_s)

        return await self.db.write(write)

    async def sqs_set_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            current = get_by_arn(c, arn)
            if current is None:
                return False
            return update_tags(c, arn, merge(current.tags))

        return await self.db.write(write)

    async def sqs_counts(self, arn: str, retention_s: int) -> QueueCounts:
        def write(c: sqlite3.Connection) -> QueueCounts:
            now = now_ms()
            queues.expire(c, arn, now - retention_s * 1000)
            return queues.counts(c, arn, at_ms=now)

        return await self.db.write(write)

    async def sqs_send(self, arn: str, messages: list[NewMessage]) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            if get_by_arn(c, arn) is None:
                return False
            for m in messages:
                queues.send(c, kind=m.kind, queue=arn, id=m.id, body=m.body, attrs=m.attrs, delay_ms=m.delay_ms)
            return True

        return await self.db.write(write)

    async def sqs_receive(self, arn: str, *, retention_s: int, redrive: tuple[str, int] | None, limit: int,
                          visibility_ms: int) -> list[Message]:
        return await self.db.write(lambda c: lease_batch(c, arn, retention_s=retention_s, redrive=redrive,
                                                         limit=limit, visibility_ms=visibility_ms))

    async def sqs_next_due_ms(self, arn: str) -> int | None:
        return self.db.read(lambda c: queues.queue_next_due_ms(c, arn))

    async def sqs_delete(self, arn: str, message_ids: list[str]) -> None:
        await self.db.write(lambda c: delete_messages(c, arn, message_ids))

    async def sqs_change_visibility(self, arn: str, changes: list[VisibilityChange]) -> list[str]:
        return await self.db.write(lambda c: [change_visibility(c, arn, x) for x in changes])
