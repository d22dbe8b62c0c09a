"""EventBridge buses, rules and targets.

Every function takes a connection, so the service can combine steps in one group-committed write (a
rule's delete checks its targets in the same transaction). Targets are kept as the AWS `Target` JSON the
client sent. Rows are per region; the `default` bus row is created on first use of a region.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.bus import MAX_TARGETS_PER_RULE, BusRecord, RoutedTarget, RuleRecord, rules_targeting
from lambdalite.store.errors import AlreadyExists, BusMissing, InUse, RuleMissing, TooManyTargets

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS event_buses (
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        description TEXT,
        created_s INTEGER NOT NULL,
        modified_s INTEGER NOT NULL,
        PRIMARY KEY (region, name)
    )""",
    """CREATE TABLE IF NOT EXISTS event_rules (
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        pattern TEXT,
        schedule TEXT,
        state TEXT NOT NULL,
        description TEXT,
        role_arn TEXT,
        created_s INTEGER NOT NULL,
        PRIMARY KEY (region, bus, name)
    )""",
    """CREATE TABLE IF NOT EXISTS event_targets (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        rule TEXT NOT NULL,
        id TEXT NOT NULL,
        target BLOB NOT NULL,
        UNIQUE (region, bus, rule, id)
    )""",
]


# ---- buses ------------------------------------------------------------------------------------------

_BUS_COLUMNS = "name, arn, description, created_s, modified_s"


def ensure_bus(conn: sqlite3.Connection, region: str, name: str, arn: str, now_s: int) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO event_buses(region, name, arn, description, created_s, modified_s) "
        "VALUES (?,?,?,NULL,?,?)",
        (region, name, arn, now_s, now_s),
    )


def create_bus(conn: sqlite3.Connection, region: str, record: BusRecord) -> None:
    if get_bus(conn, region, record.name) is not None:
        raise AlreadyExists(record.name)
    conn.execute(
        f"INSERT INTO event_buses(region, {_BUS_COLUMNS}) VALUES (?,?,?,?,?,?)",
        (region, record.name, record.arn, record.description, record.created_s, record.modified_s),
    )


def get_bus(conn: sqlite3.Connection, region: str, name: str) -> BusRecord | None:
    row = conn.execute(
        f"SELECT {_BUS_COLUMNS} FROM event_buses WHERE region = ? AND name = ?", (region, name)
    ).fetchone()
    return BusRecord(*row) if row else None


def list_buses(conn: sqlite3.Connection, region: str, prefix: str, after: str, limit: int) -> list[BusRecord]:
    """Buses whose name starts with `prefix` and sorts after `after`, by name (paging by name)."""
    rows = conn.execute(
        f"SELECT {_BUS_COLUMNS} FROM event_buses WHERE region = ? AND substr(name, 1, ?) = ? AND name > ? "
        "ORDER BY name LIMIT ?",
        (region, len(prefix), prefix, after, limit),
    ).fetchall()
    return [BusRecord(*r) for r in rows]


def delete_bus(conn: sqlite3.Connection, region: str, name: str) -> bool:
    """Delete a bus that has no rules; False if it did not exist."""
    has_rules = conn.execute(
        "SELECT 1 FROM event_rules WHERE region = ? AND bus = ? LIMIT 1", (region, name)
    ).fetchone()
    if has_rules:
        raise InUse(name)
    return conn.execute("DELETE FROM event_buses WHERE region = ? AND name = ?", (region, name)).rowcount > 0


# ---- rules ------------------------------------------------------------------------------------------

_RULE_COLUMNS = "bus, name, arn, pattern, schedule, state, description, role_arn"


def put_rule(conn: sqlite3.Connection, region: str, rule: RuleRecord, now_s: int) -> None:
    """Create or replace a rule (its targets stay), on an existing bus."""
    if get_bus(conn, region, rule.bus) is None:
        raise BusMissing(rule.bus)
    conn.execute(
        f"""INSERT INTO event_rules(region, {_RULE_COLUMNS}, created_s) VALUES (?,?,?,?,?,?,?,?,?,?)
            ON CONFLICT(region, bus, name) DO UPDATE SET pattern = excluded.pattern,
                schedule = excluded.schedule, state = excluded.state, description = excluded.description,
                role_arn = excluded.role_arn""",
        (region, rule.bus, rule.name, rule.arn, rule.pattern, rule.schedule, rule.state, rule.description,
         rule.role_arn, now_s),
    )


def get_rule(conn: sqlite3.Connection, region: str, bus: str, name: str) -> RuleRecord | None:
    row = conn.execute(
        f"SELECT {_RULE_COLUMNS} FROM event_rules WHERE region = ? AND bus = ? AND name = ?", (region, bus, name)
    ).fetchone()
    return RuleRecord(*row) if row else None


def require_rule(conn: sqlite3.Connection, region: str, bus: str, name: str) -> RuleRecord:
    rule = get_rule(conn, region, bus, name)
    if rule is None:
        raise RuleMissing(name)
    return rule


def list_rules(
    conn: sqlite3.Connection, region: str, bus: str, prefix: str, after: str, limit: int
) -> list[RuleRecord]:
    rows = conn.execute(
        f"SELECT {_RULE_COLUMNS} FROM event_rules WHERE region = ? AND bus = ? AND substr(name, 1, ?) = ? "
        "AND name > ? ORDER BY name LIMIT ?",
        (region, bus, len(prefix), prefix, after, limit),
    ).fetchall()
    return [RuleRecord(*r) for r in rows]


def set_rule_state(conn: sqlite3.Connection, region: str, bus: str, name: str, state: str) -> None:
    cur = conn.execute(
        "UPDATE event_rules SET state = ? WHERE region = ? AND bus = ? AND name = ?", (state, region, bus, name)
    )
    if cur.rowcount == 0:
        raise RuleMissing(name)


def delete_rule(conn: sqlite3.Connection, region: str, bus: str, name: str) -> None:
    """Delete a rule without targets; a missing rule is not an error (as AWS)."""
    if count_targets(conn, region, bus, name):
        raise InUse(name)
    conn.execute("DELETE FROM event_rules WHERE region = ? AND bus = ? AND name = ?", (region, bus, name))


# ---- targets ----------------------------------------------------------------------------------------


def count_targets(conn: sqlite3.Connection, region: str, bus: str, rule: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM event_targets WHERE region = ? AND bus = ? AND rule = ?", (region, bus, rule)
    ).fetchone()
    return int(row[0])


def put_targets(conn: sqlite3.Connection, region: str, bus: str, rule: str, targets: list[dict[str, Any]]) -> None:
    """Add or replace targets by Id on an existing rule, within the per-rule limit."""
    require_rule(conn, region, bus, rule)
    existing = {r[0] for r in conn.execute(
        "SELECT id FROM event_targets WHERE region = ? AND bus = ? AND rule = ?", (region, bus, rule)
    )}
    if len(existing | {t["Id"] for t in targets}) > MAX_TARGETS_PER_RULE:
        raise TooManyTargets(rule)
    conn.executemany(
        """INSERT INTO event_targets(region, bus, rule, id, target) VALUES (?,?,?,?,?)
           ON CONFLICT(region, bus, rule, id) DO UPDATE SET target = excluded.target""",
        [(region, bus, rule, t["Id"], orjson.dumps(t)) for t in targets],
    )


def remove_targets(conn: sqlite3.Connection, region: str, bus: str, rule: str, ids: list[str]) -> None:
    require_rule(conn, region, bus, rule)
    conn.executemany(
        "DELETE FROM event_targets WHERE region = ? AND bus = ? AND rule = ? AND id = ?",
        [(region, bus, rule, i) for i in ids],
    )


def list_targets(
    conn: sqlite3.Connection, region: str, bus: str, rule: str, after_seq: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """(seq, Target) in insertion order, after `after_seq` (paging)."""
    require_rule(conn, region, bus, rule)
    rows = conn.execute(
        "SELECT seq, target FROM event_targets WHERE region = ? AND bus = ? AND rule = ? AND seq > ? "
        "ORDER BY seq LIMIT ?",
        (region, bus, rule, after_seq, limit),
    ).fetchall()
    return [(seq, orjson.loads(target)) for seq, target in rows]


def routed_targets(conn: sqlite3.Connection, region: str, bus: str) -> list[RoutedTarget]:
    """Every target of every enabled rule with an event pattern on one bus."""
    rows = conn.execute(
        """SELECT r.name, r.arn, r.pattern, t.target FROM event_rules r
           JOIN event_targets t ON t.region = r.region AND t.bus = r.bus AND t.rule = r.name
           WHERE r.region = ? AND r.bus = ? AND r.state != 'DISABLED' AND r.pattern IS NOT NULL
           ORDER BY r.name, t.seq""",
        (region, bus),
    ).fetchall()
    return [RoutedTarget(name, arn, pattern, orjson.loads(target)) for name, arn, pattern, target in rows]


class BusesStore:
    """EventBridge buses, rules and targets on the facade: one read or write each."""

    db: Database
    sync_schedule: Callable[[sqlite3.Connection, str, str, str], None]  # SchedulesStore's: rows follow rules

    async def ensure_bus(self, region: str, name: str, arn: str, now_s: int) -> None:
        await self.db.write(lambda c: ensure_bus(c, region, name, arn, now_s))

    async def create_bus(self, region: str, record: BusRecord) -> None:
        await self.db.write(lambda c: create_bus(c, region, record))

    async def delete_bus(self, region: str, name: str) -> bool:
        return await self.db.write(lambda c: delete_bus(c, region, name))

    async def get_bus(self, region: str, name: str) -> BusRecord | None:
        return self.db.read(lambda c: get_bus(c, region, name))

    async def list_buses(self, region: str, prefix: str, after: str, limit: int) -> list[BusRecord]:
        return self.db.read(lambda c: list_buses(c, region, prefix, after, limit))

    async def put_rule(self, region: str, rule: RuleRecord, now_s: int) -> None:
        def write(c: sqlite3.Connection) -> None:
            put_rule(c, region, rule, now_s)
            self.sync_schedule(c, region, rule.bus, rule.name)  # a scheduled rule's ticks, same transaction

        await self.db.write(write)

    async def get_rule(self, region: str, bus: str, name: str) -> RuleRecord | None:
        return self.db.read(lambda c: get_rule(c, region, bus, name))

    async def list_rules(self, region: str, bus: str, prefix: str, after: str,
                         limit: int) -> list[RuleRecord] | None:
        def read(c: sqlite3.Connection) -> list[RuleRecord] | None:
            if get_bus(c, region, bus) is None:
                return None
            return list_rules(c, region, bus, prefix, after, limit)

        return self.db.read(read)

    async def rule_names_by_target(self, region: str, bus: str, target_arn: str) -> list[str] | None:
        def read(c: sqlite3.Connection) -> list[str] | None:
            if get_bus(c, region, bus) is None:
                return None
            rows = c.execute("SELECT rule, target FROM event_targets WHERE region = ? AND bus = ?",
                             (region, bus)).fetchall()
            return rules_targeting(rows, target_arn)

        return self.db.read(read)

    async def set_rule_state(self, region: str, bus: str, name: str, state: str) -> None:
        def write(c: sqlite3.Connection) -> None:
            set_rule_state(c, region, bus, name, state)
            self.sync_schedule(c, region, bus, name)

        await self.db.write(write)

    async def delete_rule(self, region: str, bus: str, name: str) -> None:
        def write(c: sqlite3.Connection) -> None:
            delete_rule(c, region, bus, name)
            self.sync_schedule(c, region, bus, name)

        await self.db.write(write)

    async def put_targets(self, region: str, bus: str, rule: str, targets: list[dict[str, Any]]) -> None:
        await self.db.write(lambda c: put_targets(c, region, bus, rule, targets))

    async def remove_targets(self, region: str, bus: str, rule: str, ids: list[str]) -> None:
        await self.db.write(lambda c: remove_targets(c, region, bus, rule, ids))

    async def list_targets(self, region: str, bus: str, rule: str, after_seq: int,
                           limit: int) -> list[tuple[int, dict[str, Any]]]:
        return self.db.read(lambda c: list_targets(c, region, bus, rule, after_seq, limit))

    async def routed_targets(self, region: str, bus: str) -> list[RoutedTarget]:
        return self.db.read(lambda c: routed_targets(c, region, bus))
