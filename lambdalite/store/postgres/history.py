"""Event history on PostgreSQL (the model: store/sqlite/history.py): attempt rows written inside
`finish_attempt`'s transaction, delivery results, the browser's keyset pages over `messages` and `outcomes`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.event import EVENT_KIND, queue_name
from lambdalite.model.history import (
    PAGE_LIMIT_MAX,
    Activity,
    AttemptRecord,
    DeliveryRecord,
    EventDetail,
    EventQuery,
    EventRow,
    Result,
    Status,
    status_of_outcome,
)
from lambdalite.model.outcome import Outcome
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_PREFIX = queue_name("")
_ATTEMPT_COLUMNS = ("request_id, function, run, number, started_ms, ended_ms, result, error_type, error_message, "
                    "retry_at_ms, condition")


async def add_attempts(conn: Conn, records: list[AttemptRecord]) -> None:
    """Inside `finish_attempt`'s transaction: the attempts' rows, one statement for a batch of them."""
    if not records:
        return
    await conn.execute(
        f"""INSERT INTO event_attempts({_ATTEMPT_COLUMNS})
            SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::bigint[],
                                 $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[])""",
        [r.request_id for r in records], [r.function for r in records], [r.run for r in records],
        [r.number for r in records], [r.started_ms for r in records], [r.ended_ms for r in records],
        [r.result.value for r in records], [r.error_type for r in records], [r.error_message for r in records],
        [r.retry_at_ms for r in records], [r.condition for r in records])


class _Sql:
    """Numbered parameters for a WHERE built piece by piece."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _live_status(visible_ms: int, leased: bool, at_ms: int) -> Status:
    if visible_ms <= at_ms:
        return Status.QUEUED
    return Status.RUNNING if leased else Status.DELAYED


def _keyset(sql: _Sql, column: str, id_column: str, q: EventQuery) -> list[str]:
    where = []
    if q.since_ms is not None:
        where.append(f"{column} >= {sql.arg(q.since_ms)}")
    if q.until_ms is not None:
        where.append(f"{column} <= {sql.arg(q.until_ms)}")
    if q.request_id:
        where.append(f"{id_column} = {sql.arg(q.request_id)}")
    if q.before is not None:
        where.append(f"({column}, {id_column}) < ({sql.arg(q.before[0])}, {sql.arg(q.before[1])})")
    return where


async def _live_rows(conn: Conn, q: EventQuery, at_ms: int, limit: int) -> list[EventRow]:
    sql = _Sql()
    where = [f"kind = {sql.arg(EVENT_KIND)}", *_keyset(sql, "sent_ms", "id", q)]
    if q.function:
        where.append(f"queue = {sql.arg(queue_name(q.function))}")
    if q.status is Status.QUEUED:
        where.append(f"visible_ms <= {sql.arg(at_ms)}")
    elif q.status is Status.RUNNING:
        where.append(f"visible_ms > {sql.arg(at_ms)} AND leased")
    elif q.status is Status.DELAYED:
        where.append(f"visible_ms > {sql.arg(at_ms)} AND NOT leased")
    rows = await conn.fetch(
        f"SELECT id, queue, sent_ms, visible_ms, leased, attrs FROM messages WHERE {' AND '.join(where)} "
        f"ORDER BY sent_ms DESC, id DESC LIMIT {sql.arg(limit)}", *sql.args)
    return [EventRow(r["id"], r["queue"].removeprefix(_PREFIX), _live_status(r["visible_ms"], r["leased"], at_ms),
                     r["sent_ms"], int(orjson.loads(r["attrs"] or b"{}").get("attempts", 0))) for r in rows]


async def _ended_rows(conn: Conn, q: EventQuery, limit: int) -> list[EventRow]:
    sql = _Sql()
    where = _keyset(sql, "ended_ms", "request_id", q)
    if q.function:
        where.append(f"function = {sql.arg(q.function)}")
    if q.status is Status.SUCCEEDED:
        where.append("condition = 'Success'")
    elif q.status is Status.FAILED:
        where.append("condition <> 'Success'")
    where.append("NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = outcomes.request_id)")
    rows = await conn.fetch(
        "SELECT request_id, function, condition, approximate_invoke_count, ended_ms FROM outcomes "
        f"WHERE {' AND '.join(where)} ORDER BY ended_ms DESC, request_id DESC LIMIT {sql.arg(limit)}", *sql.args)
    return [EventRow(r["request_id"], r["function"], Status.SUCCEEDED if r["condition"] == "Success" else Status.FAILED,
                     r["ended_ms"], r["approximate_invoke_count"], r["condition"]) for r in rows]


async def list_events(conn: Conn, q: EventQuery, at_ms: int) -> list[EventRow]:
    limit = max(1, min(q.limit, PAGE_LIMIT_MAX))
    rows: list[EventRow] = []
    if q.status is None or q.status.live:
        rows.extend(await _live_rows(conn, q, at_ms, limit))
    if q.status is None or not q.status.live:
        rows.extend(await _ended_rows(conn, q, limit))
    rows.sort(key=lambda r: r.cursor, reverse=True)
    return rows[:limit]


async def get_event(conn: Conn, request_id: str, at_ms: int) -> EventDetail | None:
    attempts = [AttemptRecord(r[0], r[1], r[2], r[3], r[4], r[5], Result(r[6]), r[7], r[8], r[9], r[10])
                for r in await conn.fetch(f"SELECT {_ATTEMPT_COLUMNS} FROM event_attempts WHERE request_id = $1 "
                                          "ORDER BY run, number, ended_ms", request_id)]
    live = await conn.fetchrow("SELECT queue, body, attrs, visible_ms, leased FROM messages WHERE id = $1 AND kind = $2",
                               request_id, EVENT_KIND)
    data = await conn.fetchval("SELECT data FROM outcomes WHERE request_id = $1", request_id)
    outcome = Outcome.from_json(data) if data is not None else None
    if live is not None:
        attrs = orjson.loads(live["attrs"] or b"{}")
        detail = EventDetail(request_id, live["queue"].removeprefix(_PREFIX),
                             _live_status(live["visible_ms"], live["leased"], at_ms), bytes(live["body"]),
                             accepted_ms=attrs.get("accepted_ms"), due_ms=live["visible_ms"], outcome=outcome)
    elif outcome is not None:
        detail = EventDetail(request_id, outcome.function, status_of_outcome(outcome), outcome.request_payload,
                             outcome=outcome)
    elif attempts:
        detail = EventDetail(request_id, attempts[-1].function, Status.FAILED, None)
    else:
        return None
    detail.attempts = attempts
    detail.deliveries = [DeliveryRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in await conn.fetch(
        "SELECT request_id, side, target_arn, delivered, attempts, at_ms, error FROM event_deliveries "
        "WHERE request_id = $1 ORDER BY at_ms", request_id)]
    return detail


class HistoryStore:
    db: PgDatabase

    async def list_events(self, query: EventQuery, at_ms: int) -> list[EventRow]:
        return await self.db.read(lambda c: list_events(c, query, at_ms))

    async def get_event(self, request_id: str, at_ms: int) -> EventDetail | None:
        return await self.db.read(lambda c: get_event(c, request_id, at_ms))

    async def record_delivery(self, delivery: DeliveryRecord) -> None:
        d = delivery

        async def add(c: Conn) -> None:
            await c.execute(
                """INSERT INTO event_deliveries(request_id, side, target_arn, delivered, attempts, at_ms, error)
                   VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (request_id, side) DO UPDATE SET
                   target_arn = excluded.target_arn, delivered = excluded.delivered, attempts = excluded.attempts,
                   at_ms = excluded.at_ms, error = excluded.error""",
                d.request_id, d.side, d.target_arn, d.delivered, d.attempts, d.at_ms, d.error)

        await self.db.write(add, durable=False)

    async def event_activity(self, after: int | None) -> tuple[Activity, int]:
        async def read(c: Conn) -> tuple[Activity, int]:
            last = int(await c.fetchval("SELECT coalesce(max(seq), 0) FROM event_attempts"))
            if after is None:
                return Activity(), last
            row = await c.fetchrow(
                """SELECT count(*) FILTER (WHERE retry_at_ms IS NULL AND condition = 'Success'),
                          count(*) FILTER (WHERE retry_at_ms IS NOT NULL),
                          count(*) FILTER (WHERE retry_at_ms IS NULL AND condition <> 'Success'),
                          count(*) FILTER (WHERE retry_at_ms IS NULL AND condition IS NULL)
                   FROM event_attempts WHERE seq > $1 AND seq <= $2""", after, last)
            assert row is not None
            return Activity(int(row[0]), int(row[1]), int(row[2]), int(row[3])), last

        return await self.db.read(read)

    async def prune_history(self, ended_before_ms: int, limit: int = 20_000) -> int:
        async def prune(c: Conn) -> int:
            gone = affected(await c.execute(
                "DELETE FROM event_attempts WHERE seq IN (SELECT seq FROM "
                "(SELECT seq, ended_ms FROM event_attempts ORDER BY seq LIMIT $2) oldest WHERE ended_ms < $1)",
                ended_before_ms, limit))
            gone += affected(await c.execute(
                "DELETE FROM event_deliveries WHERE (request_id, side) IN (SELECT request_id, side FROM "
                "event_deliveries WHERE at_ms < $1 LIMIT $2)", ended_before_ms, limit))
            return gone

        return await self.db.write(prune, durable=False)
