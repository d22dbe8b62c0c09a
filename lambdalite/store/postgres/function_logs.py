"""Function logs in the database (the model: model/function_log.py; SQLite keeps files instead), so an API
node shows what every worker's functions printed.

One flush of a node's LogBook is one transaction of two statements, committed with synchronous_commit
off (logs are not the 202's promise): lock-and-count each function's totals row (sorted: no deadlock
between nodes), then insert every write (unnest arrays). A function over (keep + 1) x max_bytes loses its
oldest rows down to keep x max_bytes, as the files drop their oldest rotated file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from lambdalite.model.function_log import FunctionLogs, LogChunk, LogWrite, printable, retention_cutoff_ms

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.postgres.db import Conn, PgDatabase

FOLLOW_POLL_S = 0.5
FOLLOW_BATCH_ROWS = 1000

_COUNT = """
INSERT INTO function_log_totals AS t (function, created_ms, stored_bytes)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ORDER BY 1
ON CONFLICT (function) DO UPDATE SET stored_bytes = t.stored_bytes + excluded.stored_bytes
RETURNING function, stored_bytes"""
_INSERT = """
INSERT INTO function_logs (function, stream, time_ms, bytes, data)
SELECT f, s, t, octet_length(d), d FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[]) AS u(f, s, t, d)"""
# The oldest rows whose newer rows already hold `$2` bytes go; the totals row follows.
_PRUNE = """
WITH doomed AS (
    SELECT id, bytes FROM (
        SELECT id, bytes, sum(bytes) OVER (ORDER BY id DESC) AS newer FROM function_logs WHERE function = $1
    ) ranked WHERE newer > $2
), gone AS (
    DELETE FROM function_logs f USING doomed WHERE f.id = doomed.id RETURNING doomed.bytes
)
UPDATE function_log_totals SET stored_bytes = stored_bytes - (SELECT coalesce(sum(bytes), 0) FROM gone)
WHERE function = $1"""
_LOCK = "SELECT 1 FROM function_log_totals WHERE function = $1 FOR UPDATE"
_EXPIRE = """
WITH gone AS (DELETE FROM function_logs WHERE function = $1 AND time_ms < $2 RETURNING bytes)
UPDATE function_log_totals SET stored_bytes = stored_bytes - (SELECT coalesce(sum(bytes), 0) FROM gone)
WHERE function = $1"""


class FunctionLogsStore:
    db: PgDatabase
    settings: Settings

    async def append_function_logs(self, chunks: Sequence[LogChunk]) -> None:
        rows = [(chunk.function, *write) for chunk in chunks for write in chunk.writes()]
        if not rows:
            return
        added: dict[str, int] = {}
        for function, _stream, _time_ms, data in rows:
            added[function] = added.get(function, 0) + len(data)
        now_ms = min(row[2] for row in rows)
        settings = self.settings
        most_bytes = (settings.log_keep_files + 1) * settings.log_max_bytes
        keep_bytes = max(settings.log_keep_files, 1) * settings.log_max_bytes

        async def write(c: Conn) -> None:
            totals = await c.fetch(_COUNT, list(added), [now_ms] * len(added), list(added.values()))
            await c.execute(_INSERT, *map(list, zip(*rows, strict=True)))
            for function, stored_bytes in totals:
                if settings.log_max_bytes and stored_bytes > most_bytes:
                    await c.execute(_PRUNE, function, keep_bytes)

        await self.db.write(write, durable=False)

    async def read_function_logs(self, function: str, *, since_ms: int = 0) -> list[LogWrite]:
        rows = await self.db.fetch("SELECT id, stream, time_ms, data FROM function_logs WHERE function = $1 "
                                   "AND time_ms >= $2 ORDER BY id", function, since_ms)
        return [LogWrite(r[1], int(r[2]), bytes(r[3]), int(r[0]), 0) for r in rows]

    async def list_function_logs(self) -> list[FunctionLogs]:
        rows = await self.db.fetch("SELECT function, created_ms, stored_bytes FROM function_log_totals "
                                   "ORDER BY function")
        return [FunctionLogs(r[0], int(r[1]), int(r[2])) for r in rows]

    async def delete_function_logs(self, function: str) -> None:
        async def write(c: Conn) -> None:
            await c.execute("DELETE FROM function_log_totals WHERE function = $1", function)
            await c.execute("DELETE FROM function_logs WHERE function = $1", function)

        await self.db.write(write, durable=False)

    async def expire_function_logs(self, function: str, retention_days: int, now_ms: int) -> None:
        async def write(c: Conn) -> None:
            await c.execute(_LOCK, function)  # the totals row first, as appends take it: no deadlock
            await c.execute(_EXPIRE, function, retention_cutoff_ms(retention_days, now_ms))

        await self.db.write(write, durable=False)

    async def tail_function_logs(self, function: str, *, follow: bool) -> AsyncIterator[bytes]:
        after_id = 0
        while True:
            rows = await self.db.fetch("SELECT id, data FROM function_logs WHERE function = $1 AND id > $2 "
                                       "ORDER BY id LIMIT $3", function, after_id, FOLLOW_BATCH_ROWS)
            for row in rows:
                yield printable(bytes(row[1]))
            if rows:
                after_id = int(rows[-1][0])
            if len(rows) < FOLLOW_BATCH_ROWS:
                if not follow:
                    return
                await asyncio.sleep(FOLLOW_POLL_S)
