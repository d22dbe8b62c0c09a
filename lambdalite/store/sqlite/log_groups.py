"""CloudWatch Logs groups: explicit ones (CreateLogGroup) and retention settings of any group."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from lambdalite.model.log_group import LogGroupRow
from lambdalite.store.errors import AlreadyExists

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS log_groups (
        name TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        retention_days INTEGER,
        explicit INTEGER NOT NULL DEFAULT 0
    )""",
]

_SELECT = "SELECT name, created_ms, retention_days, explicit FROM log_groups"


def _row(r: tuple[Any, ...]) -> LogGroupRow:
    return LogGroupRow(r[0], int(r[1]), None if r[2] is None else int(r[2]), bool(r[3]))


def get(conn: sqlite3.Connection, name: str) -> LogGroupRow | None:
    r = conn.execute(_SELECT + " WHERE name = ?", (name,)).fetchone()
    return _row(r) if r else None


def put(conn: sqlite3.Connection, name: str, now_ms: int, explicit: bool | None, retention_days: int | None,
        clear_retention: bool, create_only: bool) -> LogGroupRow:
    current = get(conn, name)
    if create_only and current is not None and current.explicit:
        raise AlreadyExists(name)
    row = LogGroupRow(
        name,
        current.created_ms if current else now_ms,
        None if clear_retention else (retention_days if retention_days is not None
                                      else (current.retention_days if current else None)),
        explicit if explicit is not None else (current.explicit if current else False),
    )
    conn.execute("INSERT OR REPLACE INTO log_groups(name, created_ms, retention_days, explicit) VALUES (?,?,?,?)",
                 (row.name, row.created_ms, row.retention_days, int(row.explicit)))
    return row


class LogGroupsStore:
    db: Database

    async def get_log_group(self, name: str) -> LogGroupRow | None:
        return self.db.read(lambda c: get(c, name))

    async def list_log_groups(self) -> list[LogGroupRow]:
        return [_row(r) for r in self.db.read(lambda c: c.execute(_SELECT + " ORDER BY name").fetchall())]

    async def put_log_group(self, name: str, *, now_ms: int, explicit: bool | None = None,
                            retention_days: int | None = None, clear_retention: bool = False,
                            create_only: bool = False) -> LogGroupRow:
        return await self.db.write(lambda c: put(c, name, now_ms, explicit, retention_days, clear_retention,
                                                 create_only))

    async def delete_log_group(self, name: str) -> bool:
        return await self.db.write(lambda c: c.execute("DELETE FROM log_groups WHERE name = ?", (name,)).rowcount > 0)
