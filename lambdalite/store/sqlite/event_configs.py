"""Event invoke configs (retries, max age, destinations), one per function qualifier.

The config is stored as the API's JSON shape without LastModified/FunctionArn, which are derived.
`delete_for_function` / `delete_for_qualifier` run inside the caller's transaction so that deleting a
function (or an alias or version) removes its configs atomically.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.event_config import EventConfig

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS event_configs (
        function TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        config BLOB NOT NULL,
        last_modified_ms INTEGER NOT NULL,
        PRIMARY KEY (function, qualifier)
    )""",
    # Readers cache configs per generation of the configuration tables (see functions.py).
    *[
        f"""CREATE TRIGGER IF NOT EXISTS event_configs_{op.lower()}_gen AFTER {op} ON event_configs
            BEGIN UPDATE function_generation SET gen = gen + 1 WHERE id = 1; END"""
        for op in ("INSERT", "UPDATE", "DELETE")
    ],
]


def _row(row: tuple[Any, ...]) -> EventConfig:
    return EventConfig(row[0], row[1], orjson.loads(row[2]), int(row[3]))


def get(conn: sqlite3.Connection, function: str, qualifier: str) -> EventConfig | None:
    row = conn.execute(
        "SELECT function, qualifier, config, last_modified_ms FROM event_configs WHERE function = ? AND qualifier = ?",
        (function, qualifier),
    ).fetchone()
    return _row(row) if row else None


def put(conn: sqlite3.Connection, function: str, qualifier: str, config: dict[str, Any], now_ms: int) -> EventConfig:
    conn.execute(
        "INSERT OR REPLACE INTO event_configs(function, qualifier, config, last_modified_ms) VALUES (?,?,?,?)",
        (function, qualifier, orjson.dumps(config), now_ms),
    )
    return EventConfig(function, qualifier, config, now_ms)


def update(
    conn: sqlite3.Connection,
    function: str,
    qualifier: str,
    merge: Callable[[dict[str, Any]], dict[str, Any]],
    now_ms: int,
) -> EventConfig | None:
    """Read-merge-write in one transaction; None when there is no config to update."""
    current = get(conn, function, qualifier)
    if current is None:
        return None
    return put(conn, function, qualifier, merge(current.config), now_ms)


def delete(conn: sqlite3.Connection, function: str, qualifier: str) -> bool:
    cur = conn.execute("DELETE FROM event_configs WHERE function = ? AND qualifier = ?", (function, qualifier))
    return cur.rowcount > 0


def delete_for_function(conn: sqlite3.Connection, function: str) -> int:
    """Hook for DeleteFunction: remove every qualifier's config."""
    return conn.execute("DELETE FROM event_configs WHERE function = ?", (function,)).rowcount


def delete_for_qualifier(conn: sqlite3.Connection, function: str, qualifier: str) -> int:
    """Hook for DeleteAlias / DeleteFunction with a version qualifier."""
    return conn.execute(
        "DELETE FROM event_configs WHERE function = ? AND qualifier = ?", (function, qualifier)
    ).rowcount


def list_for_function(conn: sqlite3.Connection, function: str, after: str | None, limit: int) -> list[EventConfig]:
    """Configs ordered by qualifier, starting after `after` (the paging marker)."""
    rows = conn.execute(
        "SELECT function, qualifier, config, last_modified_ms FROM event_configs "
        "WHERE function = ? AND qualifier > ? ORDER BY qualifier LIMIT ?",
        (function, after or "", limit),
    ).fetchall()
    return [_row(r) for r in rows]


class EventConfigsStore:
    db: Database

    async def get_event_config(self, function: str, qualifier: str) -> EventConfig | None:
        return self.db.read(lambda c: get(c, function, qualifier))

    async def put_event_config(
        self, function: str, qualifier: str, config: dict[str, Any], now_ms: int
    ) -> EventConfig:
        return await self.db.write(lambda c: put(c, function, qualifier, config, now_ms))

    async def update_event_config(
        self, function: str, qualifier: str, merge: Callable[[dict[str, Any]], dict[str, Any]], now_ms: int
    ) -> EventConfig | None:
        return await self.db.write(lambda c: update(c, function, qualifier, merge, now_ms))

    async def delete_event_config(self, function: str, qualifier: str) -> bool:
        return await self.db.write(lambda c: delete(c, function, qualifier))

    async def delete_event_invoke_configs(self, function: str, qualifier: str | None) -> int:
        """DeleteFunction's hook: every config of the function (qualifier None) or one qualifier's."""
        if qualifier is None:
            return await self.db.write(lambda c: delete_for_function(c, function))
        return await self.db.write(lambda c: delete_for_qualifier(c, function, qualifier))

    async def list_event_configs(self, function: str, after: str | None, limit: int) -> list[EventConfig]:
        return self.db.read(lambda c: list_for_function(c, function, after, limit))
