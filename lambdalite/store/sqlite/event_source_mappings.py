"""SQS event source mappings: one row per mapping (the record as JSON, plus the columns lookups use).

A deleted mapping keeps its row, marked `deleting`, until PURGE_AFTER_MS after it is gone; later
creates and deletes remove such rows in their own transactions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from lambdalite.model.esm import DELETING, PURGE_AFTER_MS, SETTLE_MS, EventSourceMapping

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS event_source_mappings (
        uuid TEXT PRIMARY KEY,
        source_arn TEXT NOT NULL,
        function_name TEXT NOT NULL,
        function_arn TEXT NOT NULL,
        deleting INTEGER NOT NULL DEFAULT 0,
        changed_ms INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS esm_source ON event_source_mappings(source_arn)",
    "CREATE INDEX IF NOT EXISTS esm_function ON event_source_mappings(function_name)",
]


def _put(conn: sqlite3.Connection, m: EventSourceMapping) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO event_source_mappings(uuid, source_arn, function_name, function_arn, deleting, "
        "changed_ms, data) VALUES (?,?,?,?,?,?,?)",
        (m.uuid, m.source_arn, m.function_name, m.function_arn, int(m.deleting), m.changed_ms, m.to_json()),
    )


def get(conn: sqlite3.Connection, uuid: str) -> EventSourceMapping | None:
    row = conn.execute("SELECT data FROM event_source_mappings WHERE uuid = ?", (uuid,)).fetchone()
    return EventSourceMapping.from_json(row[0]) if row else None


def _purge(conn: sqlite3.Connection, now_ms: int) -> None:
    conn.execute("DELETE FROM event_source_mappings WHERE deleting = 1 AND changed_ms < ?",
                 (now_ms - SETTLE_MS - PURGE_AFTER_MS,))


def create(conn: sqlite3.Connection, m: EventSourceMapping) -> str | None:
    """Insert `m` unless a live mapping joins the same queue and function: then that one's UUID."""
    _purge(conn, m.changed_ms)
    row = conn.execute(
        "SELECT uuid FROM event_source_mappings WHERE source_arn = ? AND function_arn = ? AND deleting = 0",
        (m.source_arn, m.function_arn),
    ).fetchone()
    if row:
        return str(row[0])
    _put(conn, m)
    return None


def update(conn: sqlite3.Connection, uuid: str,
           change: Callable[[EventSourceMapping], EventSourceMapping]) -> EventSourceMapping | None:
    current = get(conn, uuid)
    if current is None:
        return None
    updated = change(current)
    _put(conn, updated)
    return updated


def mark_deleting(conn: sqlite3.Connection, uuid: str, now_ms: int) -> EventSourceMapping | None:
    _purge(conn, now_ms)
    current = get(conn, uuid)
    if current is None:
        return None
    if current.deleting:
        return current
    deleting = replace(current, state=DELETING, changed_ms=now_ms)
    _put(conn, deleting)
    return deleting


def list_mappings(conn: sqlite3.Connection, *, source_arn: str | None, function_name: str | None,
                  function_arn: str | None, after: str, limit: int) -> list[EventSourceMapping]:
    """Mappings (deleted ones too) ordered by UUID after `after`, narrowed by whichever filters are set."""
    where, args = ["uuid > ?"], [after]
    for column, value in (("source_arn", source_arn), ("function_name", function_name),
                          ("function_arn", function_arn)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    rows = conn.execute(
        f"SELECT data FROM event_source_mappings WHERE {' AND '.join(where)} ORDER BY uuid LIMIT ?",
        (*args, limit),
    ).fetchall()
    return [EventSourceMapping.from_json(r[0]) for r in rows]


class EventSourceMappingsStore:
    db: Database

    async def esm_create(self, mapping: EventSourceMapping) -> str | None:
        return await self.db.write(lambda c: create(c, mapping))

    async def esm_get(self, uuid: str) -> EventSourceMapping | None:
        return self.db.read(lambda c: get(c, uuid))

    async def esm_update(self, uuid: str,
                         change: Callable[[EventSourceMapping], EventSourceMapping]) -> EventSourceMapping | None:
        return await self.db.write(lambda c: update(c, uuid, change))

    async def esm_delete(self, uuid: str, now_ms: int) -> EventSourceMapping | None:
        return await self.db.write(lambda c: mark_deleting(c, uuid, now_ms))

    async def esm_list(self, *, source_arn: str | None = None, function_name: str | None = None,
                       function_arn: str | None = None, after: str = "",
                       limit: int = 10_000) -> list[EventSourceMapping]:
        return self.db.read(lambda c: list_mappings(c, source_arn=source_arn, function_name=function_name,
                                                    function_arn=function_arn, after=after, limit=limit))
