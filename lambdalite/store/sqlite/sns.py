"""SNS topics and subscriptions; Publish's fan-out runs inside the write that queues its deliveries.

Attributes and tags are kept as JSON objects of strings (the settable ones, as set). A subscription is
unique per (topic, protocol, endpoint): subscribing again returns the existing one, as on AWS.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.queue import NewMessage, QueueRow
from lambdalite.model.sns import SNS_DELIVERY_KIND, SubscriptionRecord, TopicRecord, delivery_queue
from lambdalite.store.sqlite import queues
from lambdalite.store.sqlite.event_queue import enqueue_jobs

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS sns_topics (
        arn TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        attributes BLOB NOT NULL,
        tags BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sns_subscriptions (
        arn TEXT PRIMARY KEY,
        topic_arn TEXT NOT NULL,
        region TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        owner TEXT NOT NULL,
        attributes BLOB NOT NULL,
        confirmed INTEGER NOT NULL,
        token TEXT,
        token_expires_ms INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        UNIQUE (topic_arn, protocol, endpoint)
    )""",
    "CREATE INDEX IF NOT EXISTS sns_subscriptions_region ON sns_subscriptions(region, arn)",
]

_TOPIC = "arn, region, name, attributes, tags, created_ms"
_SUB = "arn, topic_arn, protocol, endpoint, owner, attributes, confirmed, token, token_expires_ms, created_ms"


def _topic(row: tuple[Any, ...]) -> TopicRecord:
    return TopicRecord(row[0], row[1], row[2], orjson.loads(row[3]), orjson.loads(row[4]), row[5])


def _sub(row: tuple[Any, ...]) -> SubscriptionRecord:
    return SubscriptionRecord(row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]), bool(row[6]), row[7],
                              row[8], row[9])


def get_topic(conn: sqlite3.Connection, arn: str) -> TopicRecord | None:
    row = conn.execute(f"SELECT {_TOPIC} FROM sns_topics WHERE arn = ?", (arn,)).fetchone()
    return _topic(row) if row else None


def create_topic(conn: sqlite3.Connection, record: TopicRecord) -> TopicRecord:
    existing = get_topic(conn, record.arn)
    if existing is not None:
        return existing
    conn.execute(f"INSERT INTO sns_topics({_TOPIC}) VALUES (?,?,?,?,?,?)",
                 (record.arn, record.region, record.name, orjson.dumps(record.attributes),
                  orjson.dumps(record.tags), record.created_ms))
    return record


def set_topic_attributes(conn: sqlite3.Connection, arn: str, attributes: dict[str, str]) -> bool:
    topic = get_topic(conn, arn)
    if topic is None:
        return False
    merged = {**topic.attributes, **attributes}
    conn.execute("UPDATE sns_topics SET attributes = ? WHERE arn = ?", (orjson.dumps(merged), arn))
    return True


def set_topic_tags(conn: sqlite3.Connection, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
    topic = get_topic(conn, arn)
    if topic is None:
        return False
    conn.execute("UPDATE sns_topics SET tags = ? WHERE arn = ?", (orjson.dumps(merge(dict(topic.tags))), arn))
    return True


def delete_topic(conn: sqlite3.Connection, arn: str) -> None:
    conn.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
    conn.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))


def get_subscription(conn: sqlite3.Connection, arn: str) -> SubscriptionRecord | None:
    row = conn.execute(f"SELECT {_SUB} FROM sns_subscriptions WHERE arn = ?", (arn,)).fetchone()
    return _sub(row) if row else None


def subscribe(conn: sqlite3.Connection, record: SubscriptionRecord, jobs: list[NewMessage]) -> SubscriptionRecord | None:
    topic = get_topic(conn, record.topic_arn)
    if topic is None:
        return None
    row = conn.execute(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?",
                       (record.topic_arn, record.protocol, record.endpoint)).fetchone()
    if row:
        return _sub(row)
    conn.execute(f"INSERT INTO sns_subscriptions({_SUB}, region) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                 (record.arn, record.topic_arn, record.protocol, record.endpoint, record.owner,
                  orjson.dumps(record.attributes), int(record.confirmed), record.token, record.token_expires_ms,
                  record.created_ms, topic.region))
    enqueue_jobs(conn, jobs)
    return record


def list_subscriptions(conn: sqlite3.Connection, region: str, topic_arn: str | None, after: str,
                       limit: int) -> list[SubscriptionRecord]:
    if topic_arn is None:
        rows = conn.execute(f"SELECT {_SUB} FROM sns_subscriptions WHERE region = ? AND arn > ? ORDER BY arn LIMIT ?",
                            (region, after, limit)).fetchall()
    else:
        rows = conn.execute(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = ? AND arn > ? ORDER BY arn "
                            "LIMIT ?", (topic_arn, after, limit)).fetchall()
    return [_sub(r) for r in rows]


def set_subscription_attributes(conn: sqlite3.Connection, arn: str, attributes: dict[str, str]) -> bool:
    sub = get_subscription(conn, arn)
    if sub is None:
        return False
    merged = {k: v for k, v in {**sub.attributes, **attributes}.items() if v != ""}
    conn.execute("UPDATE sns_subscriptions SET attributes = ? WHERE arn = ?", (orjson.dumps(merged), arn))
    return True


def confirm(conn: sqlite3.Connection, topic_arn: str, token: str, now_ms: int) -> SubscriptionRecord | None:
    row = conn.execute(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = ? AND token = ?",
                       (topic_arn, token)).fetchone()
    if row is None:
        return None
    sub = _sub(row)
    if sub.confirmed:
        return sub
    if sub.token_expires_ms < now_ms:
        return None
    conn.execute("UPDATE sns_subscriptions SET confirmed = 1 WHERE arn = ?", (sub.arn,))
    return get_subscription(conn, sub.arn)


def publish(conn: sqlite3.Connection, topic_arn: str,
            fan_out: Callable[[list[SubscriptionRecord]], list[NewMessage]]) -> bool:
    if conn.execute("SELECT 1 FROM sns_topics WHERE arn = ?", (topic_arn,)).fetchone() is None:
        return False
    rows = conn.execute(f"SELECT {_SUB} FROM sns_subscriptions WHERE topic_arn = ? AND confirmed = 1",
                        (topic_arn,)).fetchall()
    enqueue_jobs(conn, fan_out([_sub(r) for r in rows]))
    return True


def delivery_rows(conn: sqlite3.Connection, at_ms: int) -> list[QueueRow]:
    rows = []
    prefix = delivery_queue("")
    for name in sorted(queues.queues_of_kind(conn, SNS_DELIVERY_KIND)):
        counts = queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix(prefix), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


class SnsStore:
    """SNS topics and subscriptions on the facade: one read or write each."""

    db: Database

    async def sns_create_topic(self, record: TopicRecord) -> TopicRecord:
        return await self.db.write(lambda c: create_topic(c, record))

    async def sns_topic(self, arn: str) -> TopicRecord | None:
        return self.db.read(lambda c: get_topic(c, arn))

    async def sns_list_topics(self, region: str, after: str, limit: int) -> list[TopicRecord]:
        return self.db.read(lambda c: [_topic(r) for r in c.execute(
            f"SELECT {_TOPIC} FROM sns_topics WHERE region = ? AND arn > ? ORDER BY arn LIMIT ?",
            (region, after, limit))])

    async def sns_set_topic_attributes(self, arn: str, attributes: dict[str, str]) -> bool:
        return await self.db.write(lambda c: set_topic_attributes(c, arn, attributes))

    async def sns_set_topic_tags(self, arn: str, merge: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        return await self.db.write(lambda c: set_topic_tags(c, arn, merge))

    async def sns_delete_topic(self, arn: str) -> None:
        await self.db.write(lambda c: delete_topic(c, arn))

    async def sns_subscribe(self, record: SubscriptionRecord, jobs: list[NewMessage]) -> SubscriptionRecord | None:
        return await self.db.write(lambda c: subscribe(c, record, jobs))

    async def sns_subscription(self, arn: str) -> SubscriptionRecord | None:
        return self.db.read(lambda c: get_subscription(c, arn))

    async def sns_list_subscriptions(self, region: str, topic_arn: str | None, after: str,
                                     limit: int) -> list[SubscriptionRecord]:
        return self.db.read(lambda c: list_subscriptions(c, region, topic_arn, after, limit))

    async def sns_set_subscription_attributes(self, arn: str, attributes: dict[str, str]) -> bool:
        return await self.db.write(lambda c: set_subscription_attributes(c, arn, attributes))

    async def sns_confirm_subscription(self, topic_arn: str, token: str, now_ms: int) -> SubscriptionRecord | None:
        return await self.db.write(lambda c: confirm(c, topic_arn, token, now_ms))

    async def sns_unsubscribe(self, arn: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (arn,)))

    async def sns_publish(self, topic_arn: str,
                          fan_out: Callable[[list[SubscriptionRecord]], list[NewMessage]]) -> bool:
        return await self.db.write(lambda c: publish(c, topic_arn, fan_out))

    async def sns_delivery_report(self, at_ms: int) -> list[QueueRow]:
        return self.db.read(lambda c: delivery_rows(c, at_ms))
