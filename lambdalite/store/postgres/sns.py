"""SNS topics and subscriptions on PostgreSQL (the model: store/sqlite/sns.py). Publish reads the topic's
subscriptions with the topic row share-locked and queues its deliveries in the same transaction, so a
Publish answered 200 has every delivery committed; a concurrent DeleteTopic waits for it or comes first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.queue import NewMessage, QueueRow
from lambdalite.model.sns import SNS_DELIVERY_KIND, SubscriptionRecord, TopicRecord, delivery_queue
from lambdalite.store.postgres import queues
from lambdalite.store.postgres.event_queue import enqueue_jobs
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_TOPIC = "arn, region, name, attributes, tags, created_ms"
_SUB = "arn, topic_arn, protocol, endpoint, owner, attributes, confirmed, token, token_expires_ms, created_ms"


def _topic(row: Any) -> TopicRecord:
    return TopicRecord(row[0], row[1], row[2], orjson.loads(row[3]), orjson.loads(row[4]), row[5])


def _sub(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]), bool(row[6]), row[7],
                              row[8], row[9])


async def _get_topic(conn: Conn, arn: str, lock: str = "") -> TopicRecord | None:
    row = await conn.fetchrow(f"SELECT {_TOPIC} FROM sns_topics WHERE arn = $1" + (f" FOR {lock}" if lock else ""),
                              arn)
    return _topic(row) if row else None


async def _get_subscription(conn: Conn, arn: str, lock: bool = False) -> SubscriptionRecord | None:
    row = await conn.fetchrow(f"SELECT {_SUB} FROM sns_subscriptions WHERE arn = $1" + (" FOR UPDATE" if lock else ""),
                              arn)
    return _sub(row) if row else None


async def _subscribe(conn: Conn, record: SubscriptionRecord, jobs: list[NewMessage]) -> SubscriptionRecord | None:
    topic = await _get_topic(conn, record.topic_arn, "SHARE")
    if topic is None:
        return None
    inserted = await conn.fetchval(
        f"INSERT INTO sns_subscriptions({_SUB}, region) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) "
        "ON CONFLICT (topic_arn, protocol, endpoint) DO NOTHING RETURNING 1",
        record.arn, record.topic_arn, record.protocol, record.endpoint, record.owner, orjson.dumps(record.attributes),
        record.confirmed, record.token, record.token_expires_ms, record.created_ms, topic.region)
    if inserted is None:
        row = await conn.fetchrow(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = $1 AND protocol = $2 "
                                  "AND endpoint = $3", record.topic_arn, record.protocol, record.endpoint)
        return _sub(row) if row else None
    await enqueue_jobs(conn, jobs)
    return record


async def _set_topic(conn: Conn, arn: str, column: str,
                     change: Callable[[TopicRecord], dict[str, str]]) -> bool:
    topic = await _get_topic(conn, arn, "UPDATE")
    if topic is None:
        return False
    await conn.execute(f"UPDATE sns_topics SET {column} = $1 WHERE arn = $2", orjson.dumps(change(topic)), arn)
    return True


async def _confirm(conn: Conn, topic_arn: str, token: str, now_ms: int) -> SubscriptionRecord | None:
    row = await conn.fetchrow(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = $1 AND token = $2 FOR UPDATE",
                              topic_arn, token)
    if row is None:
        return None
    sub = _sub(row)
    if sub.confirmed:
        return sub
    if sub.token_expires_ms < now_ms:
        return None
    await conn.execute("UPDATE sns_subscriptions SET confirmed = true WHERE arn = $1", sub.arn)
    return await _get_subscription(conn, sub.arn)


async def _publish(conn: Conn, topic_arn: str, fan_out: Callable[[list[SubscriptionRecord]], list[NewMessage]]) -> bool:
    if await conn.fetchval("SELECT 1 FROM sns_topics WHERE arn = $1 FOR SHARE", topic_arn) is None:
        return False
    rows = await conn.fetch(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = $1 AND confirmed", topic_arn)
    await enqueue_jobs(conn, fan_out([_sub(r) for r in rows]))
    return True


async def _delivery_rows(conn: Conn, at_ms: int) -> list[QueueRow]:
    rows = []
    prefix = delivery_queue("")
    for name in sorted(await queues.queues_of_kind(conn, SNS_DELIVERY_KIND)):
        counts = await queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix(prefix), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


class SnsStore:
    db: PgDatabase

    async def sns_create_topic(self, record: TopicRecord) -> TopicRecord:
        async def fn(c: Conn) -> TopicRecord:
            inserted = await c.fetchval(
                f"INSERT INTO sns_topics({_TOPIC}) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING RETURNING 1",
                record.arn, record.region, record.name, orjson.dumps(record.attributes), orjson.dumps(record.tags),
                record.created_ms)
            existing = None if inserted else await _get_topic(c, record.arn)
            return existing or record

        return await self.db.write(fn)

    async def sns_topic(self, arn: str) -> TopicRecord | None:
        return await self.db.read(lambda c: _get_topic(c, arn))

    async def sns_list_topics(self, region: str, after: str, limit: int) -> list[TopicRecord]:
        rows = await self.db.fetch(f"SELECT {_TOPIC} FROM sns_topics WHERE region = $1 AND arn > $2 ORDER BY arn "
                                   "LIMIT $3", region, after, limit)
        return [_topic(r) for r in rows]

    async def sns_set_topic_attributes(self, arn: str, attributes: dict[str, str]) -> bool:
        return await self.db.write(lambda c: _set_topic(c, arn, "attributes",
                                                        lambda t: {**t.attributes, **attributes}))

    async def sns_set_topic_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        return await self.db.write(lambda c: _set_topic(c, arn, "tags", lambda t: merge(dict(t.tags))))

    async def sns_delete_topic(self, arn: str) -> None:
        async def fn(c: Conn) -> None:
            await c.execute("DELETE FROM sns_topics WHERE arn = $1", arn)
            await c.execute("DELETE FROM sns_subscriptions WHERE topic_arn = $1", arn)

        await self.db.write(fn)

    async def sns_subscribe(self, record: SubscriptionRecord, jobs: list[NewMessage]) -> SubscriptionRecord | None:
        return await self.db.write(lambda c: _subscribe(c, record, jobs))

    async def sns_subscription(self, arn: str) -> SubscriptionRecord | None:
        return await self.db.read(lambda c: _get_subscription(c, arn))

    async def sns_list_subscriptions(self, region: str, topic_arn: str | None, after: str,
                                     limit: int) -> list[SubscriptionRecord]:
        if topic_arn is None:
            rows = await self.db.fetch(f"SELECT {_SUB} FROM sns_subscriptions WHERE region = $1 AND arn > $2 "
                                       "ORDER BY arn LIMIT $3", region, after, limit)
        else:
            rows = await self.db.fetch(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = $1 AND arn > $2 "
                                       "ORDER BY arn LIMIT $3", topic_arn, after, limit)
        return [_sub(r) for r in rows]

    async def sns_set_subscription_attributes(self, arn: str, attributes: dict[str, str]) -> bool:
        async def fn(c: Conn) -> bool:
            sub = await _get_subscription(c, arn, lock=True)
            if sub is None:
                return False
            merged = {k: v for k, v in {**sub.attributes, **attributes}.items() if v != ""}
            return affected(await c.execute("UPDATE sns_subscriptions SET attributes = $1 WHERE arn = $2",
                                            orjson.dumps(merged), arn)) > 0

        return await self.db.write(fn)

    async def sns_confirm_subscription(self, topic_arn: str, token: str, now_ms: int) -> SubscriptionRecord | None:
        return await self.db.write(lambda c: _confirm(c, topic_arn, token, now_ms))

    async def sns_unsubscribe(self, arn: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM sns_subscriptions WHERE arn = $1", arn))

    async def sns_publish(self, topic_arn: str,
                          fan_out: Callable[[list[SubscriptionRecord]], list[NewMessage]]) -> bool:
        return await self.db.write(lambda c: _publish(c, topic_arn, fan_out))

    async def sns_delivery_report(self, at_ms: int) -> list[QueueRow]:
        return await self.db.read(lambda c: _delivery_rows(c, at_ms))
