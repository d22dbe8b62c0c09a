"""Lambda layer versions (the model: store/sqlite/layers.py): the per-layer counter row is locked while a
version is published, so two nodes never hand out one number."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.layer import LayerVersionRow
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    import asyncpg

    from lambdalite.store.postgres.db import Conn, PgDatabase

_SELECT = "SELECT name, version, config, code_sha, created_ms FROM layer_versions"


def _row(r: asyncpg.Record) -> LayerVersionRow:
    return LayerVersionRow(r[0], int(r[1]), orjson.loads(r[2]), r[3], int(r[4]))


class LayersStore:
    db: PgDatabase

    async def publish_layer_version(self, name: str, make: Callable[[int], dict[str, Any]], code_sha: str,
                                    now_ms: int) -> LayerVersionRow:
        async def write(c: Conn) -> LayerVersionRow:
            await c.execute("INSERT INTO layer_names(name, next_version) VALUES ($1, 1) ON CONFLICT DO NOTHING",
                            name)
            version = int(await c.fetchval("SELECT next_version FROM layer_names WHERE name = $1 FOR UPDATE",
                                           name))
            await c.execute("UPDATE layer_names SET next_version = $1 WHERE name = $2", version + 1, name)
            config = make(version)
            await c.execute("INSERT INTO layer_versions(name, version, config, code_sha, created_ms) "
                            "VALUES ($1, $2, $3, $4, $5)", name, version, orjson.dumps(config), code_sha, now_ms)
            return LayerVersionRow(name, version, config, code_sha, now_ms)

        return await self.db.write(write)

    async def get_layer_version(self, name: str, version: int, *, deleted: bool = False) -> LayerVersionRow | None:
        where = " WHERE name = $1 AND version = $2" + ("" if deleted else " AND NOT deleted")
        row = await self.db.fetchrow(_SELECT + where, name, version)
        return _row(row) if row is not None else None

    async def list_layer_versions(self, name: str) -> list[LayerVersionRow]:
        rows = await self.db.fetch(_SELECT + " WHERE name = $1 AND NOT deleted ORDER BY version DESC", name)
        return [_row(r) for r in rows]

    async def list_layers(self) -> list[LayerVersionRow]:
        rows = await self.db.fetch(
            "SELECT DISTINCT ON (name) name, version, config, code_sha, created_ms FROM layer_versions "
            "WHERE NOT deleted ORDER BY name, version DESC")
        return [_row(r) for r in rows]

    async def delete_layer_version(self, name: str, version: int) -> bool:
        async def write(c: Conn) -> bool:
            return affected(await c.execute(
                "UPDATE layer_versions SET deleted = true WHERE name = $1 AND version = $2 AND NOT deleted",
                name, version)) > 0

        return await self.db.write(write)
