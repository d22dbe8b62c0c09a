"""Scheduled rules' fire state: one row per enabled rule with a ScheduleExpression, holding its next tick.

Rows follow the rules (`sync_rule`, called in the same transaction as a rule's put, state change or
delete): a new, re-enabled or changed schedule is anchored at that moment. Firing is a compare-and-set
of `next_ms` in the transaction that queues the targets' jobs, so of two dispatchers (in any processes)
that see the same tick due, exactly one fires it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.model import schedule
from lambdalite.model.queue import NewMessage
from lambdalite.model.schedule import ScheduleState
from lambdalite.store.sqlite import event_queue

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS rule_schedules (
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        expression TEXT NOT NULL,
        anchor_ms INTEGER NOT NULL,
        next_ms INTEGER,
        PRIMARY KEY (region, bus, name)
    )""",
    "CREATE INDEX IF NOT EXISTS rule_schedules_due ON rule_schedules(next_ms)",
]

_COLUMNS = "region, bus, name, arn, expression, anchor_ms, next_ms"


def sync_rule(conn: sqlite3.Connection, region: str, bus: str, name: str, at_ms: int, scale: float) -> None:
    """Make the rule's schedule row match the rule: none unless it is enabled with a schedule; a new
    anchor (first tick one period on) when its expression is new or it was just (re-)enabled."""
    rule = conn.execute(
        "SELECT arn, schedule, state FROM event_rules WHERE region = ? AND bus = ? AND name = ?", (region, bus, name)
    ).fetchone()
    if rule is None or rule[1] is None or rule[2] == "DISABLED" or not schedule.is_valid(rule[1]):
        conn.execute("DELETE FROM rule_schedules WHERE region = ? AND bus = ? AND name = ?", (region, bus, name))
        return
    arn, expression = rule[0], rule[1]
    current = conn.execute(
        "SELECT expression FROM rule_schedules WHERE region = ? AND bus = ? AND name = ?", (region, bus, name)
    ).fetchone()
    if current is not None and current[0] == expression:
        return
    next_ms = schedule.Ticks(schedule.parse(expression), at_ms, scale).next_after(at_ms)
    conn.execute(
        f"""INSERT INTO rule_schedules({_COLUMNS}) VALUES (?,?,?,?,?,?,?)
            ON CONFLICT(region, bus, name) DO UPDATE SET arn = excluded.arn, expression = excluded.expression,
                anchor_ms = excluded.anchor_ms, next_ms = excluded.next_ms""",
        (region, bus, name, arn, expression, at_ms, next_ms),
    )


def due(conn: sqlite3.Connection, at_ms: int, limit: int) -> list[ScheduleState]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM rule_schedules WHERE next_ms <= ? ORDER BY next_ms LIMIT ?", (at_ms, limit)
    ).fetchall()
    return [ScheduleState(*row) for row in rows]


def next_due_ms(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT min(next_ms) FROM rule_schedules").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def rule_targets(conn: sqlite3.Connection, state: ScheduleState) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT target FROM event_targets WHERE region = ? AND bus = ? AND rule = ? ORDER BY seq",
        (state.region, state.bus, state.name),
    ).fetchall()
    return [orjson.loads(row[0]) for row in rows]


def advance(conn: sqlite3.Connection, state: ScheduleState, next_ms: int | None,
            jobs: Callable[[list[dict[str, Any]]], list[NewMessage]] | None) -> bool:
    """Compare-and-set the rule's next tick from `state.next_ms` to `next_ms`; when it was ours and
    `jobs` is given, queue `jobs(targets)` in the same transaction. False: someone else moved it."""
    cur = conn.execute(
        "UPDATE rule_schedules SET next_ms = ? WHERE region = ? AND bus = ? AND name = ? AND next_ms = ? "
        "AND expression = ? AND anchor_ms = ?",
        (next_ms, state.region, state.bus, state.name, state.next_ms, state.expression, state.anchor_ms),
    )
    if cur.rowcount != 1:
        return False
    if jobs is not None:
        event_queue.enqueue_jobs(conn, jobs(rule_targets(conn, state)))
    return True


class SchedulesStore:
    """Scheduled rules on the facade (their rows follow the rules: see BusesStore)."""

    db: Database
    settings: Settings

    def sync_schedule(self, conn: sqlite3.Connection, region: str, bus: str, name: str) -> None:
        """For the rules' writes: keep this rule's schedule row in step, in their transaction."""
        sync_rule(conn, region, bus, name, now_ms(), self.settings.schedule_scale)

    async def due_schedules(self, at_ms: int, limit: int) -> list[ScheduleState]:
        return self.db.read(lambda c: due(c, at_ms, limit))

    async def next_schedule_ms(self) -> int | None:
        return self.db.read(next_due_ms)

    async def advance_schedule(self, state: ScheduleState, next_ms: int | None,
                               jobs: Callable[[list[dict[str, Any]]], list[NewMessage]] | None) -> bool:
        return await self.db.write(lambda c: advance(c, state, next_ms, jobs))
