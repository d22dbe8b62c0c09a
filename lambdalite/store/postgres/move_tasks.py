"""SQS message move tasks on PostgreSQL (the model: store/sqlite/move_tasks.py). Starting one locks the
source (a transaction-level advisory lock on its ARN), so two API nodes cannot both start one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalite.model.sqs import ACTIVE, CANCELLED, CANCELLING, RUNNING, MoveTaskRecord

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_COLUMNS = "handle, source_arn, destination_arn, rate, to_move, started_ms, status, moved, failure, owner, heartbeat_ms"


def _record(row: Any) -> MoveTaskRecord:
    return MoveTaskRecord(*row)


async def _get(conn: Conn, handle: str) -> MoveTaskRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM sqs_move_tasks WHERE handle = $1", handle)
    return _record(row) if row else None


async def _start(conn: Conn, task: MoveTaskRecord, kept: int) -> bool:
    # Serialise starts of one source across nodes: the lock lives until COMMIT.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", task.source_arn)
    if await conn.fetchval("SELECT 1 FROM sqs_move_tasks WHERE source_arn = $1 AND status = ANY($2::text[])",
                           task.source_arn, list(ACTIVE)):
        return False
    await conn.execute(
        f"INSERT INTO sqs_move_tasks({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        task.handle, task.source_arn, task.destination_arn, task.rate, task.to_move, task.started_ms, task.status,
        task.moved, task.failure, task.owner, task.heartbeat_ms)
    await conn.execute("""DELETE FROM sqs_move_tasks WHERE source_arn = $1 AND seq NOT IN
                          (SELECT seq FROM sqs_move_tasks WHERE source_arn = $1 ORDER BY seq DESC LIMIT $2)""",
                       task.source_arn, kept)
    return True


async def _cancel(conn: Conn, handle: str, stale_before_ms: int) -> MoveTaskRecord | None:
    await conn.execute(
        """UPDATE sqs_move_tasks SET owner = CASE WHEN owner IS NULL OR heartbeat_ms < $1 THEN NULL ELSE owner END,
               status = CASE WHEN owner IS NULL OR heartbeat_ms < $1 THEN $2 ELSE $3 END
           WHERE handle = $4 AND status = $5""", stale_before_ms, CANCELLED, CANCELLING, handle, RUNNING)
    return await _get(conn, handle)


async def _claim(conn: Conn, owner: str, now_ms: int, stale_before_ms: int) -> MoveTaskRecord | None:
    row = await conn.fetchrow(
        f"""UPDATE sqs_move_tasks SET owner = $1, heartbeat_ms = $2 WHERE handle = (
                SELECT handle FROM sqs_move_tasks WHERE status = ANY($3::text[])
                    AND (owner IS NULL OR heartbeat_ms < $4)
                ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING {_COLUMNS}""", owner, now_ms, list(ACTIVE), stale_before_ms)
    return _record(row) if row else None


async def _report(conn: Conn, handle: str, owner: str, moved: int, status: str, failure: str | None,
                  now_ms: int) -> MoveTaskRecord | None:
    row = await conn.fetchrow(
        f"""UPDATE sqs_move_tasks SET moved = $1, failure = $2, heartbeat_ms = $3,
                status = CASE WHEN status = $4 AND $5 = $6 THEN status ELSE $5 END
            WHERE handle = $7 AND owner = $8 AND status = ANY($9::text[]) RETURNING {_COLUMNS}""",
        moved, failure, now_ms, CANCELLING, status, RUNNING, handle, owner, list(ACTIVE))
    return _record(row) if row else None


class MoveTasksStore:
    db: PgDatabase

    async def sqs_move_task_start(self, task: MoveTaskRecord, kept: int) -> bool:
        return await self.db.write(lambda c: _start(c, task, kept))

    async def sqs_move_tasks(self, source_arn: str, limit: int) -> list[MoveTaskRecord]:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM sqs_move_tasks WHERE source_arn = $1 ORDER BY seq DESC LIMIT $2", source_arn, limit)
        return [_record(r) for r in rows]

    async def sqs_move_task(self, handle: str) -> MoveTaskRecord | None:
        return await self.db.read(lambda c: _get(c, handle))

    async def sqs_move_task_cancel(self, handle: str, stale_before_ms: int) -> MoveTaskRecord | None:
        return await self.db.write(lambda c: _cancel(c, handle, stale_before_ms))

    async def sqs_move_task_claim(self, owner: str, now_ms: int, stale_before_ms: int) -> MoveTaskRecord | None:
        if not await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM sqs_move_tasks WHERE status = ANY($1::text[]) "
                                      "AND (owner IS NULL OR heartbeat_ms < $2))", list(ACTIVE), stale_before_ms):
            return None  # the runners' idle poll: one read, no transaction
        return await self.db.write(lambda c: _claim(c, owner, now_ms, stale_before_ms), durable=False)

    async def sqs_move_task_report(self, handle: str, owner: str, *, moved: int, status: str, failure: str | None,
                                   now_ms: int) -> MoveTaskRecord | None:
        return await self.db.write(lambda c: _report(c, handle, owner, moved, status, failure, now_ms))
