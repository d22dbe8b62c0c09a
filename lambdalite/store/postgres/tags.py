"""Resource tags (the model: store/sqlite/tags.py): a row is locked (made first if missing) for each merge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class TagsStore:
    db: PgDatabase

    async def get_tags(self, arn: str) -> dict[str, str]:
        data = await self.db.fetchval("SELECT tags FROM resource_tags WHERE arn = $1", arn)
        return dict(orjson.loads(data)) if data is not None else {}

    async def set_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> dict[str, str]:
        async def write(c: Conn) -> dict[str, str]:
            await c.execute("INSERT INTO resource_tags(arn, tags) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            arn, b"{}")
            current = await c.fetchval("SELECT tags FROM resource_tags WHERE arn = $1 FOR UPDATE", arn)
            tags = merge(dict(orjson.loads(current)))
            if tags:
                await c.execute("UPDATE resource_tags SET tags = $1 WHERE arn = $2", orjson.dumps(tags), arn)
            else:
                await c.execute("DELETE FROM resource_tags WHERE arn = $1", arn)
            return tags

        return await self.db.write(write)

    async def delete_tags(self, arn_prefix: str) -> int:
        async def write(c: Conn) -> int:
            return affected(await c.execute(
                "DELETE FROM resource_tags WHERE arn = $1 OR arn LIKE $2", arn_prefix, _escaped(arn_prefix) + ":%"))

        return await self.db.write(write)
