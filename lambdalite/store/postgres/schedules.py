"""Scheduled rules' fire state on PostgreSQL (the model: store/sqlite/schedules.py): one row per enabled
rule with a ScheduleExpression, kept in step by the rules' writes; a tick is claimed by compare-and-set
of `next_ms` in the transaction that queues its target jobs, so of many nodes exactly one fires it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.clock import now_ms
from lambdalite.model import schedule
from lambdalite.model.queue import NewMessage
from lambdalite.model.schedule import ScheduleState
from lambdalite.store.postgres import event_queue
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.postgres.db import Conn, PgDatabase

_COLUMNS = "region, bus, name, arn, expression, anchor_ms, next_ms"


async def sync_rule(conn: Conn, region: str, bus: str, name: str, at_ms: int, scale: float) -> None:
    """Make the rule's schedule row match the rule (see the SQLite module)."""
    rule = await conn.fetchrow("SELECT arn, schedule, state FROM event_rules WHERE region = $1 AND bus = $2 "
                               "AND name = $3", region, bus, name)
    if rule is None or rule[1] is None or rule[2] == "DISABLED" or not schedule.is_valid(rule[1]):
        await conn.execute("DELETE FROM rule_schedules WHERE region = $1 AND bus = $2 AND name = $3",
                           region, bus, name)
        return
    current = await conn.fetchval("SELECT expression FROM rule_schedules WHERE region = $1 AND bus = $2 "
                                  "AND name = $3 FOR UPDATE", region, bus, name)
    if current == rule[1]:
        return
    next_ms = schedule.Ticks(schedule.parse(rule[1]), at_ms, scale).next_after(at_ms)
    await conn.execute(
        f"""INSERT INTO rule_schedules({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7)
            ON CONFLICT (region, bus, name) DO UPDATE SET arn = excluded.arn, expression = excluded.expression,
                anchor_ms = excluded.anchor_ms, next_ms = excluded.next_ms""",
        region, bus, name, rule[0], rule[1], at_ms, next_ms)


async def advance(conn: Conn, state: ScheduleState, next_ms: int | None,
                  jobs: Callable[[list[dict[str, Any]]], list[NewMessage]] | None) -> bool:
    status = await conn.execute(
        "UPDATE rule_schedules SET next_ms = $1 WHERE region = $2 AND bus = $3 AND name = $4 AND next_ms = $5 "
        "AND expression = $6 AND anchor_ms = $7",
        next_ms, state.region, state.bus, state.name, state.next_ms, state.expression, state.anchor_ms)
    if affected(status) != 1:
        return False
    if jobs is not None:
        rows = await conn.fetch("SELECT target FROM event_targets WHERE region = $1 AND bus = $2 AND rule = $3 "
                                "ORDER BY seq", state.region, state.bus, state.name)
        await event_queue.enqueue_jobs(conn, jobs([orjson.loads(r[0]) for r in rows]))
    return True


class SchedulesStore:
    db: PgDatabase
    settings: Settings

    async def sync_schedule(self, conn: Conn, region: str, bus: str, name: str) -> None:
        await sync_rule(conn, region, bus, name, now_ms(), self.settings.schedule_scale)

    async def due_schedules(self, at_ms: int, limit: int) -> list[ScheduleState]:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM rule_schedules WHERE next_ms <= $1 ORDER BY next_ms "
                                   "LIMIT $2", at_ms, limit)
        return [ScheduleState(*r) for r in rows]

    async def next_schedule_ms(self) -> int | None:
        value = await self.db.fetchval("SELECT min(next_ms) FROM rule_schedules")
        return None if value is None else int(value)

    async def advance_schedule(self, state: ScheduleState, next_ms: int | None,
                               jobs: Callable[[list[dict[str, Any]]], list[NewMessage]] | None) -> bool:
        return await self.db.write(lambda c: advance(c, state, next_ms, jobs))
