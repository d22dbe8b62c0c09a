"""Event history on SQLite: attempt rows (one INSERT inside `finish_attempt`), delivery results, and the
event browser's queries over the live queue (`messages`), the ended events (`outcomes`) and those rows.

Reads only what an index answers: the browser's first page walks `outcomes` by `ended_ms` (or by
`function, ended_ms`) newest first with a keyset cursor, and an event's page is three point lookups.
Pruning (`prune`, from the maintenance loop) keeps the history as long as the outcomes it explains.
"""

from __future__ import annotations

import sqlite3
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
from lambdalite.store.sqlite import queues

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS event_attempts (
        request_id TEXT NOT NULL,
        function TEXT NOT NULL,
        run INTEGER NOT NULL,
        number INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER NOT NULL,
        result TEXT NOT NULL,
        error_type TEXT,
        error_message TEXT,
        retry_at_ms INTEGER,
        condition TEXT
    )""",
    # One index: rows are appended in time order, so rowid order is (nearly) ended_ms order; activity and
    # pruning walk rowids instead of paying for a second index on every attempt.
    "CREATE INDEX IF NOT EXISTS event_attempts_request ON event_attempts(request_id)",
    """CREATE TABLE IF NOT EXISTS event_deliveries (
        request_id TEXT NOT NULL,
        side TEXT NOT NULL,
        target_arn TEXT NOT NULL,
        delivered INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (request_id, side)
    )""",
    "CREATE INDEX IF NOT EXISTS event_deliveries_at ON event_deliveries(at_ms)",
    # The browser's per-function page (outcomes' own table and ended_ms index are outcomes.py's).
    "CREATE INDEX IF NOT EXISTS outcomes_function_ended ON outcomes(function, ended_ms)",
]

_PREFIX = queue_name("")
_ATTEMPT_COLUMNS = ("request_id, function, run, number, started_ms, ended_ms, result, error_type, error_message, "
                    "retry_at_ms, condition")
_INSERT_ATTEMPT = f"INSERT INTO event_attempts({_ATTEMPT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"


def add_attempt(conn: sqlite3.Connection, r: AttemptRecord) -> None:
    """Inside `finish_attempt`'s transaction: the one extra write per attempt."""
    conn.execute(_INSERT_ATTEMPT, (r.request_id, r.function, r.run, r.number, r.started_ms, r.ended_ms,
                                   r.result.value, r.error_type, r.error_message, r.retry_at_ms, r.condition))


def add_delivery(conn: sqlite3.Connection, d: DeliveryRecord) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO event_deliveries(request_id, side, target_arn, delivered, attempts, at_ms, error)"
        " VALUES (?,?,?,?,?,?,?)",
        (d.request_id, d.side, d.target_arn, int(d.delivered), d.attempts, d.at_ms, d.error),
    )


# ---- the browser ----------------------------------------------------------------------------------------


def _live_status(visible_ms: int, leased: int, at_ms: int) -> Status:
    if visible_ms <= at_ms:
        return Status.QUEUED
    return Status.RUNNING if leased else Status.DELAYED


_LIVE_WHERE = {
    Status.QUEUED: "visible_ms <= :now",
    Status.RUNNING: "visible_ms > :now AND leased = 1",
    Status.DELAYED: "visible_ms > :now AND leased = 0",
}


def _keyset(column: str, id_column: str, q: EventQuery, params: dict[str, Any]) -> list[str]:
    """Filters shared by both sources: time range, request id, the cursor."""
    where = []
    if q.since_ms is not None:
        where.append(f"{column} >= :since")
        params["since"] = q.since_ms
    if q.until_ms is not None:
        where.append(f"{column} <= :until")
        params["until"] = q.until_ms
    if q.request_id:
        where.append(f"{id_column} = :rid")
        params["rid"] = q.request_id
    if q.before is not None:
        where.append(f"({column} < :bt OR ({column} = :bt AND {id_column} < :bid))")
        params["bt"], params["bid"] = q.before
    return where


def _live_rows(conn: sqlite3.Connection, q: EventQuery, at_ms: int, limit: int) -> list[EventRow]:
    params: dict[str, Any] = {"kind": EVENT_KIND, "now": at_ms, "limit": limit}
    where = ["kind = :kind", *_keyset("sent_ms", "id", q, params)]
    if q.function:
        where.append("queue = :queue")
        params["queue"] = queue_name(q.function)
    if q.status is not None:
        where.append(_LIVE_WHERE[q.status])
    rows = conn.execute(
        "SELECT id, queue, sent_ms, visible_ms, leased, coalesce(json_extract(attrs, '$.attempts'), 0) "
        f"FROM messages WHERE {' AND '.join(where)} ORDER BY sent_ms DESC, id DESC LIMIT :limit", params,
    ).fetchall()
    return [EventRow(r[0], r[1].removeprefix(_PREFIX), _live_status(r[3], r[4], at_ms), r[2], int(r[5]))
            for r in rows]


def _ended_rows(conn: sqlite3.Connection, q: EventQuery, limit: int) -> list[EventRow]:
    params: dict[str, Any] = {"limit": limit, "kind": EVENT_KIND}
    where = _keyset("ended_ms", "request_id", q, params)
    if q.function:
        where.append("function = :function")
        params["function"] = q.function
    if q.status is Status.SUCCEEDED:
        where.append("condition = 'Success'")
    elif q.status is Status.FAILED:
        where.append("condition != 'Success'")
    # A redriven event is live again: its earlier outcome stays until the new one replaces it, unseen.
    where.append("NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = outcomes.request_id)")
    rows = conn.execute(
        "SELECT request_id, function, condition, approximate_invoke_count, ended_ms FROM outcomes "
        f"WHERE {' AND '.join(where)} ORDER BY ended_ms DESC, request_id DESC LIMIT :limit", params,
    ).fetchall()
    return [EventRow(r[0], r[1], Status.SUCCEEDED if r[2] == "Success" else Status.FAILED, r[4], r[3], r[2])
            for r in rows]


def list_events(conn: sqlite3.Connection, q: EventQuery, at_ms: int) -> list[EventRow]:
    """One page, newest first: live events by accept time, ended ones by end time, merged."""
    limit = max(1, min(q.limit, PAGE_LIMIT_MAX))
    rows: list[EventRow] = []
    if q.status is None or q.status.live:
        rows.extend(_live_rows(conn, q, at_ms, limit))
    if q.status is None or not q.status.live:
        rows.extend(_ended_rows(conn, q, limit))
    rows.sort(key=lambda r: r.cursor, reverse=True)
    return rows[:limit]


def _attempts(conn: sqlite3.Connection, request_id: str) -> list[AttemptRecord]:
    rows = conn.execute(
        f"SELECT {_ATTEMPT_COLUMNS} FROM event_attempts WHERE request_id = ? ORDER BY run, number, ended_ms",
        (request_id,),
    ).fetchall()
    return [AttemptRecord(r[0], r[1], r[2], r[3], r[4], r[5], Result(r[6]), r[7], r[8], r[9], r[10]) for r in rows]


def _deliveries(conn: sqlite3.Connection, request_id: str) -> list[DeliveryRecord]:
    rows = conn.execute(
        "SELECT request_id, side, target_arn, delivered, attempts, at_ms, error FROM event_deliveries "
        "WHERE request_id = ? ORDER BY at_ms", (request_id,),
    ).fetchall()
    return [DeliveryRecord(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]


def get_event(conn: sqlite3.Connection, request_id: str, at_ms: int) -> EventDetail | None:
    attempts = _attempts(conn, request_id)
    live = conn.execute(f"SELECT queue, {queues.BODY}, attrs, visible_ms, leased FROM messages WHERE id = ? "
                        "AND kind = ?", (request_id, EVENT_KIND)).fetchone()
    row = conn.execute("SELECT data FROM outcomes WHERE request_id = ?", (request_id,)).fetchone()
    outcome = Outcome.from_json(row[0]) if row else None
    if live is not None:
        attrs = orjson.loads(live[2] or b"{}")
        detail = EventDetail(request_id, live[0].removeprefix(_PREFIX), _live_status(live[3], live[4], at_ms),
                             bytes(live[1]), accepted_ms=attrs.get("accepted_ms"), due_ms=live[3])
    elif outcome is not None:
        detail = EventDetail(request_id, outcome.function, status_of_outcome(outcome), outcome.request_payload,
                             outcome=outcome)
    elif attempts:  # dropped without a record, or its outcome already pruned
        detail = EventDetail(request_id, attempts[-1].function, Status.FAILED, None)
    else:
        return None
    detail.attempts = attempts
    detail.deliveries = _deliveries(conn, request_id)
    if detail.outcome is None and live is not None:
        detail.outcome = outcome  # a redriven event: how its previous run ended
    return detail


def activity(conn: sqlite3.Connection, after: int | None) -> tuple[Activity, int]:
    """Attempts recorded after the cursor `after` (None: start now), and the cursor to pass next time."""
    last = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM event_attempts").fetchone()[0])
    if after is None:
        return Activity(), last
    row = conn.execute(
        """SELECT coalesce(sum(retry_at_ms IS NULL AND condition = 'Success'), 0),
                  coalesce(sum(retry_at_ms IS NOT NULL), 0),
                  coalesce(sum(retry_at_ms IS NULL AND condition != 'Success'), 0),
                  coalesce(sum(retry_at_ms IS NULL AND condition IS NULL), 0)
           FROM event_attempts WHERE rowid > ? AND rowid <= ?""", (after, last),
    ).fetchone()
    return Activity(int(row[0]), int(row[1]), int(row[2]), int(row[3])), last


def prune(conn: sqlite3.Connection, ended_before_ms: int, limit: int = 20_000) -> int:
    """Delete up to `limit` attempt rows (and delivery rows) older than the cutoff; how many went. Looks at
    the oldest `limit` rowids only (appended in time order), so a pass costs the same however big the table."""
    gone = conn.execute(
        "DELETE FROM event_attempts WHERE rowid IN (SELECT rowid FROM "
        "(SELECT rowid, ended_ms FROM event_attempts ORDER BY rowid LIMIT ?) WHERE ended_ms < ?)",
        (limit, ended_before_ms),
    ).rowcount
    gone += conn.execute(
        "DELETE FROM event_deliveries WHERE rowid IN "
        "(SELECT rowid FROM event_deliveries WHERE at_ms < ? LIMIT ?)", (ended_before_ms, limit),
    ).rowcount
    return gone


class HistoryStore:
    db: Database

    async def list_events(self, query: EventQuery, at_ms: int) -> list[EventRow]:
        return self.db.read(lambda c: list_events(c, query, at_ms))

    async def get_event(self, request_id: str, at_ms: int) -> EventDetail | None:
        return self.db.read(lambda c: get_event(c, request_id, at_ms))

    async def record_delivery(self, delivery: DeliveryRecord) -> None:
        await self.db.write(lambda c: add_delivery(c, delivery), durable=False)

    async def event_activity(self, after: int | None) -> tuple[Activity, int]:
        return self.db.read(lambda c: activity(c, after))

    async def prune_history(self, ended_before_ms: int) -> int:
        return await self.db.write(lambda c: prune(c, ended_before_ms), durable=False)
