"""Event invoke configs (the model: store/sqlite/event_configs.py). Changes bump the configuration
generation (a trigger, see migrations/0001_init.sql) that every node's cache follows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.event_config import EventConfig
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_SELECT = "SELECT function, qualifier, config, last_modified_ms FROM event_configs"


def _row(row: Any) -> EventConfig:
    return EventConfig(row[0], row[1], orjson.loads(row[2]), int(row[3]))


async def get(conn: Conn, function: str, qualifier: str, *, lock: bool = False) -> EventConfig | None:
    row = await conn.fetchrow(_SELECT + " WHERE function = $1 AND qualifier = $2" + (" FOR UPDATE" if lock else ""),
                              function, qualifier)
    return _row(row) if row else None


async def put(conn: Conn, function: str, qualifier: str, config: dict[str, Any], now_ms: int) -> EventConfig:
    await conn.execute(
        """INSERT INTO event_configs(function, qualifier, config, last_modified_ms) VALUES ($1,$2,$3,$4)
           ON CONFLICT (function, qualifier) DO UPDATE SET config = excluded.config,
               last_modified_ms = excluded.last_modified_ms""",
        function, qualifier, orjson.dumps(config), now_ms,
    )
    return EventConfig(function, qualifier, config, now_ms)


class EventConfigsStore:
    db: PgDatabase

    def config_changed(self) -> None: ...

    async def _config_write(self, fn: Callable[[Conn], Any]) -> Any:
        try:
            return await self.db.write(fn)
        finally:
            self.config_changed()

    async def get_event_config(self, function: str, qualifier: str) -> EventConfig | None:
        row = await self.db.fetchrow(_SELECT + " WHERE function = $1 AND qualifier = $2", function, qualifier)
        return _row(row) if row else None

    async def put_event_config(self, function: str, qualifier: str, config: dict[str, Any],
                               now_ms: int) -> EventConfig:
        result: EventConfig = await self._config_write(lambda c: put(c, function, qualifier, config, now_ms))
        return result

    async def update_event_config(self, function: str, qualifier: str,
                                  merge: Callable[[dict[str, Any]], dict[str, Any]], now_ms: int) -> EventConfig | None:
        async def fn(c: Conn) -> EventConfig | None:
            current = await get(c, function, qualifier, lock=True)
            if current is None:
                return None
            return await put(c, function, qualifier, merge(current.config), now_ms)

        result: EventConfig | None = await self._config_write(fn)
        return result

    async def delete_event_config(self, function: str, qualifier: str) -> bool:
        async def fn(c: Conn) -> bool:
            return affected(await c.execute("DELETE FROM event_configs WHERE function = $1 AND qualifier = $2",
                                            function, qualifier)) > 0

        return bool(await self._config_write(fn))

    async def delete_event_invoke_configs(self, function: str, qualifier: str | None) -> int:
        async def fn(c: Conn) -> int:
            if qualifier is None:
                return affected(await c.execute("DELETE FROM event_configs WHERE function = $1", function))
            return affected(await c.execute("DELETE FROM event_configs WHERE function = $1 AND qualifier = $2",
                                            function, qualifier))

        return int(await self._config_write(fn))

    async def list_event_configs(self, function: str, after: str | None, limit: int) -> list[EventConfig]:
        rows = await self.db.fetch(_SELECT + " WHERE function = $1 AND qualifier > $2 ORDER BY qualifier LIMIT $3",
                                   function, after or "", limit)
        return [_row(r) for r in rows]
