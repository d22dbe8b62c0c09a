"""SQS queues on PostgreSQL (the model: store/sqlite/sqs.py): metadata rows in `sqs_queues`, messages in
the queue engine (kind "sqs", queue = the queue's ARN). Sends and redrives NOTIFY the queue's topic, so
a long poll on any node wakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.model.queue import Message, NewMessage, QueueCounts
from lambdalite.model.sqs import QueueRecord, VisibilityChange
from lambdalite.store.postgres import queues
from lambdalite.store.postgres.queues import affected
from lambdalite.wakeups import sqs_topic

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_COLUMNS = "region, name, arn, attrs, tags, created_s, modified_s"


def _record(row: Any) -> QueueRecord:
    region, name, arn, attrs, tags, created_s, modified_s = row
    return QueueRecord(region, name, arn, orjson.loads(attrs), orjson.loads(tags), created_s, modified_s)


async def get_by_arn(conn: Conn, arn: str, *, lock: bool = False) -> QueueRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM sqs_queues WHERE arn = $1" + (" FOR UPDATE" if lock else ""),
                              arn)
    return _record(row) if row else None


async def lease_batch(conn: Conn, arn: str, *, retention_s: int, redrive: tuple[str, int] | None, limit: int,
                      visibility_ms: int) -> list[Message]:
    now = now_ms()
    await queues.expire(conn, arn, now - retention_s * 1000)
    dlq = await get_by_arn(conn, redrive[0]) if redrive else None
    out: list[Message] = []
    while len(out) < limit:
        leased = await queues.lease(conn, lease_ms=visibility_ms, limit=limit - len(out), queue=arn, at_ms=now)
        moved = 0
        for message in leased:
            if redrive and dlq is not None and message.receive_count > redrive[1]:
                meta = orjson.loads(message.attrs or b"{}")
                meta["src"] = arn
                await queues.move(conn, message.id, dlq.arn, visible_ms=now, attrs=orjson.dumps(meta))
                moved += 1
            else:
                out.append(message)
        if moved and dlq is not None:
            await queues.notify(conn, sqs_topic(dlq.arn))
        if not moved or visibility_ms == 0:
            break
    return out


async def change_visibility(conn: Conn, arn: str, change: VisibilityChange) -> str:
    message = await queues.get(conn, change.message_id)
    now = now_ms()
    if message is None or message.queue != arn:
        return "missing"
    if message.receipt != change.receipt or message.visible_ms <= now:
        return "not_in_flight"
    await queues.reschedule(conn, change.message_id, change.receipt, visible_ms=now + change.timeout_s * 1000,
                            release=False)
    if change.timeout_s == 0:
        await queues.notify(conn, sqs_topic(arn))
    return "ok"


class SqsStore:
    db: PgDatabase

    async def sqs_queue(self, region: str, name: str) -> QueueRecord | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM sqs_queues WHERE region = $1 AND name = $2",
                                     region, name)
        return _record(row) if row else None

    async def sqs_queue_by_arn(self, arn: str) -> QueueRecord | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM sqs_queues WHERE arn = $1", arn)
        return _record(row) if row else None

    async def sqs_list_names(self, region: str, prefix: str, after: str, limit: int) -> list[str]:
        rows = await self.db.fetch(
            "SELECT name FROM sqs_queues WHERE region = $1 AND left(name, $2) = $3 AND name > $4 ORDER BY name"
            " LIMIT $5", region, len(prefix), prefix, after, limit)
        return [r[0] for r in rows]

    async def sqs_queues(self, region: str) -> list[QueueRecord]:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM sqs_queues WHERE region = $1 ORDER BY name", region)
        return [_record(r) for r in rows]

    async def sqs_create_queue(self, record: QueueRecord) -> QueueRecord | None:
        async def write(c: Conn) -> QueueRecord | None:
            inserted = await c.fetchval(
                f"INSERT INTO sqs_queues({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING RETURNING 1",
                record.region, record.name, record.arn, orjson.dumps(record.attrs), orjson.dumps(record.tags),
                record.created_s, record.modified_s)
            if inserted is not None:
                return None
            row = await c.fetchrow(f"SELECT {_COLUMNS} FROM sqs_queues WHERE region = $1 AND name = $2",
                                   record.region, record.name)
            return _record(row) if row else None

        return await self.db.write(write)

    async def sqs_delete_queue(self, arn: str) -> None:
        async def write(c: Conn) -> None:
            await c.execute("DELETE FROM sqs_queues WHERE arn = $1", arn)
            await queues.purge(c, arn)

        await self.db.write(write)

    async def sqs_purge(self, arn: str) -> int:
        return await self.db.write(lambda c: queues.purge(c, arn))

    async def sqs_set_attributes(self, arn: str, settable: dict[str, str], modified_s: int) -> bool:
        async def write(c: Conn) -> bool:
            current = await get_by_arn(c, arn, lock=True)
            if current is None:
                return False
            merged = {k: v for k, v in {**current.attrs, **settable}.items() if v != ""}
            return affected(await c.execute("UPDATE sqs_queues SET attrs = $1, modified_s = $2 WHERE arn = $3",
                                            orjson.dumps(merged), modified_s, arn)) > 0

        return await self.db.write(write)

    async def sqs_set_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        async def write(c: Conn) -> bool:
            current = await get_by_arn(c, arn, lock=True)
            if current is None:
                return False
            return affected(await c.execute("UPDATE sqs_queues SET tags = $1 WHERE arn = $2",
                                            orjson.dumps(merge(current.tags)), arn)) > 0

        return await self.db.write(write)

    async def sqs_counts(self, arn: str, retention_s: int) -> QueueCounts:
        async def write(c: Conn) -> QueueCounts:
            now = now_ms()
            await queues.expire(c, arn, now - retention_s * 1000)
            return await queues.counts(c, arn, at_ms=now)

        return await self.db.write(write, durable=False)

    async def sqs_send(self, arn: str, messages: list[NewMessage]) -> bool:
        async def write(c: Conn) -> bool:
            if await c.fetchval("SELECT 1 FROM sqs_queues WHERE arn = $1 FOR SHARE", arn) is None:
                return False
            now = now_ms()
            await queues.send_many(c, [(m.kind, arn, m.id, m.body, m.attrs, now, now + m.delay_ms)
                                       for m in messages])
            await queues.notify(c, sqs_topic(arn))
            return True

        return await self.db.write(write)

    async def sqs_receive(self, arn: str, *, retention_s: int, redrive: tuple[str, int] | None, limit: int,
                          visibility_ms: int) -> list[Message]:
        return await self.db.write(lambda c: lease_batch(c, arn, retention_s=retention_s, redrive=redrive,
                                                         limit=limit, visibility_ms=visibility_ms))

    async def sqs_next_due_ms(self, arn: str) -> int | None:
        value = await self.db.fetchval("SELECT min(visible_ms) FROM messages WHERE queue = $1", arn)
        return None if value is None else int(value)

    async def sqs_delete(self, arn: str, message_ids: list[str]) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM messages WHERE queue = $1 AND id = ANY($2::text[])",
                                                arn, message_ids))

    async def sqs_change_visibility(self, arn: str, changes: list[VisibilityChange]) -> list[str]:
        async def write(c: Conn) -> list[str]:
            return [await change_visibility(c, arn, x) for x in changes]

        return await self.db.write(write)
