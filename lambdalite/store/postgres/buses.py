"""EventBridge buses, rules and targets on PostgreSQL (the model: store/sqlite/buses.py). A rule's row is
locked while its targets change, so the per-rule target limit holds when nodes add targets at once."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.bus import MAX_TARGETS_PER_RULE, BusRecord, RoutedTarget, RuleRecord, rules_targeting
from lambdalite.store.errors import AlreadyExists, BusMissing, InUse, RuleMissing, TooManyTargets
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_BUS_COLUMNS = "name, arn, description, created_s, modified_s"
_RULE_COLUMNS = "bus, name, arn, pattern, schedule, state, description, role_arn"


async def _get_bus(conn: Conn, region: str, name: str) -> BusRecord | None:
    row = await conn.fetchrow(f"SELECT {_BUS_COLUMNS} FROM event_buses WHERE region = $1 AND name = $2", region, name)
    return BusRecord(*row) if row else None


async def _get_rule(conn: Conn, region: str, bus: str, name: str, *, lock: bool = False) -> RuleRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_RULE_COLUMNS} FROM event_rules WHERE region = $1 AND bus = $2 AND name = $3"
        + (" FOR UPDATE" if lock else ""), region, bus, name)
    return RuleRecord(*row) if row else None


async def _require_rule(conn: Conn, region: str, bus: str, name: str) -> RuleRecord:
    rule = await _get_rule(conn, region, bus, name, lock=True)
    if rule is None:
        raise RuleMissing(name)
    return rule


class BusesStore:
    db: PgDatabase
    sync_schedule: Callable[[Conn, str, str, str], Coroutine[Any, Any, None]]  # SchedulesStore's: rows follow rules

    async def ensure_bus(self, region: str, name: str, arn: str, now_s: int) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT INTO event_buses(region, name, arn, description, created_s, modified_s) "
            "VALUES ($1,$2,$3,NULL,$4,$4) ON CONFLICT DO NOTHING", region, name, arn, now_s))

    async def create_bus(self, region: str, record: BusRecord) -> None:
        async def fn(c: Conn) -> None:
            inserted = await c.fetchval(
                f"INSERT INTO event_buses(region, {_BUS_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                region, record.name, record.arn, record.description, record.created_s, record.modified_s)
            if inserted is None:
                raise AlreadyExists(record.name)

        await self.db.write(fn)

    async def delete_bus(self, region: str, name: str) -> bool:
        async def fn(c: Conn) -> bool:
            await c.fetchval("SELECT 1 FROM event_buses WHERE region = $1 AND name = $2 FOR UPDATE", region, name)
            if await c.fetchval("SELECT 1 FROM event_rules WHERE region = $1 AND bus = $2 LIMIT 1", region, name):
                raise InUse(name)
            return affected(await c.execute("DELETE FROM event_buses WHERE region = $1 AND name = $2",
                                            region, name)) > 0

        return await self.db.write(fn)

    async def get_bus(self, region: str, name: str) -> BusRecord | None:
        return await self.db.read(lambda c: _get_bus(c, region, name))

    async def list_buses(self, region: str, prefix: str, after: str, limit: int) -> list[BusRecord]:
        rows = await self.db.fetch(
            f"SELECT {_BUS_COLUMNS} FROM event_buses WHERE region = $1 AND left(name, $2) = $3 AND name > $4 "
            "ORDER BY name LIMIT $5", region, len(prefix), prefix, after, limit)
        return [BusRecord(*r) for r in rows]

    async def put_rule(self, region: str, rule: RuleRecord, now_s: int) -> None:
        async def fn(c: Conn) -> None:
            if await c.fetchval("SELECT 1 FROM event_buses WHERE region = $1 AND name = $2 FOR SHARE",
                                region, rule.bus) is None:
                raise BusMissing(rule.bus)
            await c.execute(
                f"""INSERT INTO event_rules(region, {_RULE_COLUMNS}, created_s) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
                    ON CONFLICT (region, bus, name) DO UPDATE SET pattern = excluded.pattern,
                        schedule = excluded.schedule, state = excluded.state, description = excluded.description,
                        role_arn = excluded.role_arn""",
                region, rule.bus, rule.name, rule.arn, rule.pattern, rule.schedule, rule.state, rule.description,
                rule.role_arn, now_s)
            await self.sync_schedule(c, region, rule.bus, rule.name)  # a scheduled rule's ticks, same transaction

        await self.db.write(fn)

    async def get_rule(self, region: str, bus: str, name: str) -> RuleRecord | None:
        return await self.db.read(lambda c: _get_rule(c, region, bus, name))

    async def list_rules(self, region: str, bus: str, prefix: str, after: str,
                         limit: int) -> list[RuleRecord] | None:
        async def fn(c: Conn) -> list[RuleRecord] | None:
            if await _get_bus(c, region, bus) is None:
                return None
            rows = await c.fetch(
                f"SELECT {_RULE_COLUMNS} FROM event_rules WHERE region = $1 AND bus = $2 AND left(name, $3) = $4 "
                "AND name > $5 ORDER BY name LIMIT $6", region, bus, len(prefix), prefix, after, limit)
            return [RuleRecord(*r) for r in rows]

        return await self.db.read(fn)

    async def rule_names_by_target(self, region: str, bus: str, target_arn: str) -> list[str] | None:
        async def fn(c: Conn) -> list[str] | None:
            if await _get_bus(c, region, bus) is None:
                return None
            rows = await c.fetch("SELECT rule, target FROM event_targets WHERE region = $1 AND bus = $2", region, bus)
            return rules_targeting([(r[0], r[1]) for r in rows], target_arn)

        return await self.db.read(fn)

    async def set_rule_state(self, region: str, bus: str, name: str, state: str) -> None:
        async def fn(c: Conn) -> None:
            status = await c.execute("UPDATE event_rules SET state = $1 WHERE region = $2 AND bus = $3 AND name = $4",
                                     state, region, bus, name)
            if affected(status) == 0:
                raise RuleMissing(name)
            await self.sync_schedule(c, region, bus, name)

        await self.db.write(fn)

    async def delete_rule(self, region: str, bus: str, name: str) -> None:
        async def fn(c: Conn) -> None:
            await _get_rule(c, region, bus, name, lock=True)
            if await c.fetchval("SELECT 1 FROM event_targets WHERE region = $1 AND bus = $2 AND rule = $3 LIMIT 1",
                                region, bus, name):
                raise InUse(name)
            await c.execute("DELETE FROM event_rules WHERE region = $1 AND bus = $2 AND name = $3", region, bus, name)
            await self.sync_schedule(c, region, bus, name)

        await self.db.write(fn)

    async def put_targets(self, region: str, bus: str, rule: str, targets: list[dict[str, Any]]) -> None:
        async def fn(c: Conn) -> None:
            await _require_rule(c, region, bus, rule)
            existing = {r[0] for r in await c.fetch(
                "SELECT id FROM event_targets WHERE region = $1 AND bus = $2 AND rule = $3", region, bus, rule)}
            if len(existing | {t["Id"] for t in targets}) > MAX_TARGETS_PER_RULE:
                raise TooManyTargets(rule)
            await c.executemany(
                """INSERT INTO event_targets(region, bus, rule, id, target) VALUES ($1,$2,$3,$4,$5)
                   ON CONFLICT (region, bus, rule, id) DO UPDATE SET target = excluded.target""",
                [(region, bus, rule, t["Id"], orjson.dumps(t)) for t in targets])

        await self.db.write(fn)

    async def remove_targets(self, region: str, bus: str, rule: str, ids: list[str]) -> None:
        async def fn(c: Conn) -> None:
            await _require_rule(c, region, bus, rule)
            await c.execute("DELETE FROM event_targets WHERE region = $1 AND bus = $2 AND rule = $3 "
                            "AND id = ANY($4::text[])", region, bus, rule, ids)

        await self.db.write(fn)

    async def list_targets(self, region: str, bus: str, rule: str, after_seq: int,
                           limit: int) -> list[tuple[int, dict[str, Any]]]:
        async def fn(c: Conn) -> list[tuple[int, dict[str, Any]]]:
            if await _get_rule(c, region, bus, rule) is None:
                raise RuleMissing(rule)
            rows = await c.fetch(
                "SELECT seq, target FROM event_targets WHERE region = $1 AND bus = $2 AND rule = $3 AND seq > $4 "
                "ORDER BY seq LIMIT $5", region, bus, rule, after_seq, limit)
            return [(int(seq), orjson.loads(target)) for seq, target in rows]

        return await self.db.read(fn)

    async def routed_targets(self, region: str, bus: str) -> list[RoutedTarget]:
        rows = await self.db.fetch(
            """SELECT r.name, r.arn, r.pattern, t.target FROM event_rules r
               JOIN event_targets t ON t.region = r.region AND t.bus = r.bus AND t.rule = r.name
               WHERE r.region = $1 AND r.bus = $2 AND r.state != 'DISABLED' AND r.pattern IS NOT NULL
               ORDER BY r.name, t.seq""", region, bus)
        return [RoutedTarget(name, arn, pattern, orjson.loads(target)) for name, arn, pattern, target in rows]
