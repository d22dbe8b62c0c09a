"""Lambda layer versions. A deleted version keeps its row (marked) so functions that use it keep running
it, as on AWS; its number is never given again (`layer_names.next_version`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.layer import LayerVersionRow

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    "CREATE TABLE IF NOT EXISTS layer_names (name TEXT PRIMARY KEY, next_version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS layer_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        config BLOB NOT NULL,
        code_sha TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (name, version)
    )""",
]

_SELECT = "SELECT name, version, config, code_sha, created_ms FROM layer_versions"


def _row(r: tuple[Any, ...]) -> LayerVersionRow:
    return LayerVersionRow(r[0], int(r[1]), orjson.loads(r[2]), r[3], int(r[4]))


def publish(conn: sqlite3.Connection, name: str, make: Callable[[int], dict[str, Any]], code_sha: str,
            now_ms: int) -> LayerVersionRow:
    row = conn.execute("SELECT next_version FROM layer_names WHERE name = ?", (name,)).fetchone()
    version = int(row[0]) if row else 1
    conn.execute("INSERT OR REPLACE INTO layer_names(name, next_version) VALUES (?, ?)", (name, version + 1))
    config = make(version)
    conn.execute("INSERT INTO layer_versions(name, version, config, code_sha, created_ms) VALUES (?,?,?,?,?)",
                 (name, version, orjson.dumps(config), code_sha, now_ms))
    return LayerVersionRow(name, version, config, code_sha, now_ms)


class LayersStore:
    db: Database

    async def publish_layer_version(self, name: str, make: Callable[[int], dict[str, Any]], code_sha: str,
                                    now_ms: int) -> LayerVersionRow:
        return await self.db.write(lambda c: publish(c, name, make, code_sha, now_ms))

    async def get_layer_version(self, name: str, version: int, *, deleted: bool = False) -> LayerVersionRow | None:
        where = " WHERE name = ? AND version = ?" + ("" if deleted else " AND deleted = 0")
        r = self.db.read(lambda c: c.execute(_SELECT + where, (name, version)).fetchone())
        return _row(r) if r else None

    async def list_layer_versions(self, name: str) -> list[LayerVersionRow]:
        rows = self.db.read(lambda c: c.execute(
            _SELECT + " WHERE name = ? AND deleted = 0 ORDER BY version DESC", (name,)).fetchall())
        return [_row(r) for r in rows]

    async def list_layers(self) -> list[LayerVersionRow]:
        rows = self.db.read(lambda c: c.execute(
            _SELECT + " WHERE deleted = 0 AND version = (SELECT MAX(version) FROM layer_versions v "
            "WHERE v.name = layer_versions.name AND v.deleted = 0) ORDER BY name").fetchall())
        return [_row(r) for r in rows]

    async def delete_layer_version(self, name: str, version: int) -> bool:
        return await self.db.write(lambda c: c.execute(
            "UPDATE layer_versions SET deleted = 1 WHERE name = ? AND version = ? AND deleted = 0",
            (name, version)).rowcount > 0)
