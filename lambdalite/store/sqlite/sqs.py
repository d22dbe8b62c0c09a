"""SQS queue metadata: one row per queue (region, name, ARN, attributes, tags, times).

Messages themselves live in the shared queue engine (queues.py, kind "sqs", queue = the queue's ARN),
so every function here takes a connection and can join the caller's transaction (create + purge, ...).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

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


@dataclass(slots=True)
class QueueRecord:
    region: str
    name: str
    arn: str
    attrs: dict[str, str]  # settable attributes as AWS returns them (strings), defaults filled in
    tags: dict[str, str]
    created_s: int
    modified_s: int


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


class SqsStore:
    """Read helpers on the store facade; writes go through `db.write(fn)` with the functions above."""

    db: Database

    def sqs_queue(self, region: str, name: str) -> QueueRecord | None:
        return self.db.read(lambda c: get(c, region, name))

    def sqs_queue_by_arn(self, arn: str) -> QueueRecord | None:
        return self.db.read(lambda c: get_by_arn(c, arn))
