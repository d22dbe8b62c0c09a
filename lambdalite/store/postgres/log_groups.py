"""CloudWatch Logs groups (the model: store/sqlite/log_groups.py): a change locks the group's row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdalite.model.log_group import LogGroupRow
from lambdalite.store.errors import AlreadyExists
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    import asyncpg

    from lambdalite.store.postgres.db import Conn, PgDatabase

_SELECT = "SELECT name, created_ms, retention_days, explicit FROM log_groups"


def _row(r: asyncpg.Record) -> LogGroupRow:
    return LogGroupRow(r[0], int(r[1]), None if r[2] is None else int(r[2]), bool(r[3]))


class LogGroupsStore:
    db: PgDatabase

    async def get_log_group(self, name: str) -> LogGroupRow | None:
        row = await self.db.fetchrow(_SELECT + " WHERE name = $1", name)
        return _row(row) if row is not None else None

    async def list_log_groups(self) -> list[LogGroupRow]:
        return [_row(r) for r in await self.db.fetch(_SELECT + " ORDER BY name")]

    async def put_log_group(self, name: str, *, now_ms: int, explicit: bool | None = None,
                            retention_days: int | None = None, clear_retention: bool = False,
                            create_only: bool = False) -> LogGroupRow:
        async def write(c: Conn) -> LogGroupRow:
            found = await c.fetchrow(_SELECT + " WHERE name = $1 FOR UPDATE", name)
            current = _row(found) if found is not None else None
            if create_only and current is not None and current.explicit:
                raise AlreadyExists(name)
            row = LogGroupRow(
                name,
                current.created_ms if current else now_ms,
                None if clear_retention else (retention_days if retention_days is not None
                                              else (current.retention_days if current else None)),
                explicit if explicit is not None else (current.explicit if current else False),
            )
            await c.execute(
                "INSERT INTO log_groups(name, created_ms, retention_days, explicit) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (name) DO UPDATE SET created_ms = excluded.created_ms, "
                "retention_days = excluded.retention_days, explicit = excluded.explicit",
                row.name, row.created_ms, row.retention_days, row.explicit)
            return row

        return await self.db.write(write)

    async def delete_log_group(self, name: str) -> bool:
        async def write(c: Conn) -> bool:
            return affected(await c.execute("DELETE FROM log_groups WHERE name = $1", name)) > 0

        return await self.db.write(write)
