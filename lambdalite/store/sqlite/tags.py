"""Tags of Lambda functions and EventBridge buses and rules, one JSON map per resource ARN."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    "CREATE TABLE IF NOT EXISTS resource_tags (arn TEXT PRIMARY KEY, tags BLOB NOT NULL)",
]


def get(conn: sqlite3.Connection, arn: str) -> dict[str, str]:
    row = conn.execute("SELECT tags FROM resource_tags WHERE arn = ?", (arn,)).fetchone()
    return dict(orjson.loads(row[0])) if row else {}


def put(conn: sqlite3.Connection, arn: str, tags: dict[str, str]) -> None:
    if tags:
        conn.execute("INSERT OR REPLACE INTO resource_tags(arn, tags) VALUES (?, ?)", (arn, orjson.dumps(tags)))
    else:
        conn.execute("DELETE FROM resource_tags WHERE arn = ?", (arn,))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class TagsStore:
    db: Database

    async def get_tags(self, arn: str) -> dict[str, str]:
        return self.db.read(lambda c: get(c, arn))

    async def set_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> dict[str, str]:
        def fn(c: sqlite3.Connection) -> dict[str, str]:
            tags = merge(get(c, arn))
            put(c, arn, tags)
            return tags

        return await self.db.write(fn)

    async def delete_tags(self, arn_prefix: str) -> int:
        return await self.db.write(lambda c: c.execute(
            "DELETE FROM resource_tags WHERE arn = ? OR arn LIKE ? ESCAPE '\\'",
            (arn_prefix, _escaped(arn_prefix) + ":%")).rowcount)
