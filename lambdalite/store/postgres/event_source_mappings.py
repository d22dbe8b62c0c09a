"""SQS event source mappings (the model: store/sqlite/event_source_mappings.py): one row per mapping, the
record as JSON plus the columns lookups use. A live (queue, function ARN) pair is unique: creates lock the
pair with a transaction-level advisory lock so two nodes cannot both insert it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lambdalite.model.esm import DELETING, PURGE_AFTER_MS, SETTLE_MS, EventSourceMapping

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_PUT = """INSERT INTO event_source_mappings(uuid, source_arn, function_name, function_arn, deleting, changed_ms, data)
          VALUES ($1,$2,$3,$4,$5,$6,$7)
          ON CONFLICT (uuid) DO UPDATE SET source_arn = excluded.source_arn, function_name = excluded.function_name,
              function_arn = excluded.function_arn, deleting = excluded.deleting, changed_ms = excluded.changed_ms,
              data = excluded.data"""


async def _put(conn: Conn, m: EventSourceMapping) -> None:
    await conn.execute(_PUT, m.uuid, m.source_arn, m.function_name, m.function_arn, m.deleting, m.changed_ms,
                       m.to_json())


async def _get(conn: Conn, uuid: str, *, lock: bool = False) -> EventSourceMapping | None:
    row = await conn.fetchrow("SELECT data FROM event_source_mappings WHERE uuid = $1" + (" FOR UPDATE" if lock else ""),
                              uuid)
    return EventSourceMapping.from_json(bytes(row[0])) if row else None


async def _purge(conn: Conn, now_ms: int) -> None:
    await conn.execute("DELETE FROM event_source_mappings WHERE deleting AND changed_ms < $1",
                       now_ms - SETTLE_MS - PURGE_AFTER_MS)


class EventSourceMappingsStore:
    db: PgDatabase

    async def esm_create(self, mapping: EventSourceMapping) -> str | None:
        async def fn(c: Conn) -> str | None:
            await c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"esm:{mapping.source_arn}")
            await _purge(c, mapping.changed_ms)
            existing = await c.fetchval(
                "SELECT uuid FROM event_source_mappings WHERE source_arn = $1 AND function_arn = $2 AND NOT deleting",
                mapping.source_arn, mapping.function_arn)
            if existing is not None:
                return str(existing)
            await _put(c, mapping)
            return None

        result: str | None = await self.db.write(fn)
        return result

    async def esm_get(self, uuid: str) -> EventSourceMapping | None:
        row = await self.db.fetchrow("SELECT data FROM event_source_mappings WHERE uuid = $1", uuid)
        return EventSourceMapping.from_json(bytes(row[0])) if row else None

    async def esm_update(self, uuid: str,
                         change: Callable[[EventSourceMapping], EventSourceMapping]) -> EventSourceMapping | None:
        async def fn(c: Conn) -> EventSourceMapping | None:
            current = await _get(c, uuid, lock=True)
            if current is None:
                return None
            updated = change(current)
            await _put(c, updated)
            return updated

        result: EventSourceMapping | None = await self.db.write(fn)
        return result

    async def esm_delete(self, uuid: str, now_ms: int) -> EventSourceMapping | None:
        async def fn(c: Conn) -> EventSourceMapping | None:
            await _purge(c, now_ms)
            current = await _get(c, uuid, lock=True)
            if current is None or current.deleting:
                return current
            deleting = replace(current, state=DELETING, changed_ms=now_ms)
            await _put(c, deleting)
            return deleting

        result: EventSourceMapping | None = await self.db.write(fn)
        return result

    async def esm_list(self, *, source_arn: str | None = None, function_name: str | None = None,
                       function_arn: str | None = None, after: str = "",
                       limit: int = 10_000) -> list[EventSourceMapping]:
        where, args = ["uuid > $1"], [after]
        for column, value in (("source_arn", source_arn), ("function_name", function_name),
                              ("function_arn", function_arn)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        args_all: list[Any] = [*args, limit]
        rows = await self.db.fetch(f"SELECT data FROM event_source_mappings WHERE {' AND '.join(where)} "
                                   f"ORDER BY uuid LIMIT ${len(args_all)}", *args_all)
        return [EventSourceMapping.from_json(bytes(r[0])) for r in rows]
