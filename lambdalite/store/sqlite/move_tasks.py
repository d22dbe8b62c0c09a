"""SQS message move tasks on SQLite: one row per task, newest kept per source (see protocol.MoveTasksStore)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from lambdalite.model.sqs import ACTIVE, CANCELLED, CANCELLING, RUNNING, MoveTaskRecord

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS sqs_move_tasks (
        handle TEXT PRIMARY KEY,
        source_arn TEXT NOT NULL,
        destination_arn TEXT,
        rate INTEGER,
        to_move INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        moved INTEGER NOT NULL,
        failure TEXT,
        owner TEXT,
        heartbeat_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sqs_move_tasks_source ON sqs_move_tasks(source_arn, seq)",
]
_COLUMNS = "handle, source_arn, destination_arn, rate, to_move, started_ms, status, moved, failure, owner, heartbeat_ms"
_ACTIVE = f"status IN ('{ACTIVE[0]}', '{ACTIVE[1]}')"
_CLAIMABLE = (f"SELECT handle FROM sqs_move_tasks WHERE {_ACTIVE} AND (owner IS NULL OR heartbeat_ms < ?) "
              "ORDER BY seq LIMIT 1")


def _record(row: tuple[Any, ...]) -> MoveTaskRecord:
    return MoveTaskRecord(*row)


def get(conn: sqlite3.Connection, handle: str) -> MoveTaskRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM sqs_move_tasks WHERE handle = ?", (handle,)).fetchone()
    return _record(row) if row else None


def start(conn: sqlite3.Connection, task: MoveTaskRecord, kept: int) -> bool:
    if conn.execute(f"SELECT 1 FROM sqs_move_tasks WHERE source_arn = ? AND {_ACTIVE}", (task.source_arn,)).fetchone():
        return False
    seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM sqs_move_tasks").fetchone()[0]
    conn.execute(f"INSERT INTO sqs_move_tasks({_COLUMNS}, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                 (task.handle, task.source_arn, task.destination_arn, task.rate, task.to_move, task.started_ms,
                  task.status, task.moved, task.failure, task.owner, task.heartbeat_ms, seq))
    conn.execute("""DELETE FROM sqs_move_tasks WHERE source_arn = ? AND seq NOT IN
                    (SELECT seq FROM sqs_move_tasks WHERE source_arn = ? ORDER BY seq DESC LIMIT ?)""",
                 (task.source_arn, task.source_arn, kept))
    return True


def cancel(conn: sqlite3.Connection, handle: str, stale_before_ms: int) -> MoveTaskRecord | None:
    conn.execute("""UPDATE sqs_move_tasks SET
                        owner = CASE WHEN owner IS NULL OR heartbeat_ms < ? THEN NULL ELSE owner END,
                        status = CASE WHEN owner IS NULL OR heartbeat_ms < ? THEN ? ELSE ? END
                    WHERE handle = ? AND status = ?""",
                 (stale_before_ms, stale_before_ms, CANCELLED, CANCELLING, handle, RUNNING))
    return get(conn, handle)


def claim(conn: sqlite3.Connection, owner: str, now_ms: int, stale_before_ms: int) -> MoveTaskRecord | None:
    row = conn.execute(_CLAIMABLE, (stale_before_ms,)).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE sqs_move_tasks SET owner = ?, heartbeat_ms = ? WHERE handle = ?", (owner, now_ms, row[0]))
    return get(conn, row[0])


def report(conn: sqlite3.Connection, handle: str, owner: str, moved: int, status: str, failure: str | None,
           now_ms: int) -> MoveTaskRecord | None:
    changed = conn.execute(  # a final task (cancelled, completed, failed) stays final: the report is refused
        f"""UPDATE sqs_move_tasks SET moved = ?, failure = ?, heartbeat_ms = ?,
               status = CASE WHEN status = ? AND ? = ? THEN status ELSE ? END
           WHERE handle = ? AND owner = ? AND {_ACTIVE}""",
        (moved, failure, now_ms, CANCELLING, status, RUNNING, status, handle, owner)).rowcount
    return get(conn, handle) if changed else None


class MoveTasksStore:
    db: Database

    async def sqs_move_task_start(self, task: MoveTaskRecord, kept: int) -> bool:
        return await self.db.write(lambda c: start(c, task, kept))

    async def sqs_move_tasks(self, source_arn: str, limit: int) -> list[MoveTaskRecord]:
        rows = self.db.read(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM sqs_move_tasks WHERE source_arn = ? ORDER BY seq DESC LIMIT ?",
            (source_arn, limit)).fetchall())
        return [_record(r) for r in rows]

    async def sqs_move_task(self, handle: str) -> MoveTaskRecord | None:
        return self.db.read(lambda c: get(c, handle))

    async def sqs_move_task_cancel(self, handle: str, stale_before_ms: int) -> MoveTaskRecord | None:
        return await self.db.write(lambda c: cancel(c, handle, stale_before_ms))

    async def sqs_move_task_claim(self, owner: str, now_ms: int, stale_before_ms: int) -> MoveTaskRecord | None:
        if not self.db.read(lambda c: c.execute(_CLAIMABLE, (stale_before_ms,)).fetchone()):
            return None  # the runners' idle poll: a read, no write
        return await self.db.write(lambda c: claim(c, owner, now_ms, stale_before_ms), durable=False)

    async def sqs_move_task_report(self, handle: str, owner: str, *, moved: int, status: str, failure: str | None,
                                   now_ms: int) -> MoveTaskRecord | None:
        return await self.db.write(lambda c: report(c, handle, owner, moved, status, failure, now_ms))
