"""How each async event ended, queryable by request id (operators, tests, `lambdalite queue`).

`record` runs in the same transaction that deletes the ended event from its queue. Delivery being
at-least-once, an event may end twice (a lease lapsed mid-run): the later outcome replaces the earlier.
Outcomes are kept for `settings.outcome_retention_s`, then pruned (`prune`, from the maintenance loop,
in batches until none is left past the cutoff): at thousands of events a second they would otherwise
fill the disk.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from lambdalite.model.outcome import Outcome

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS outcomes (
        request_id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        condition TEXT NOT NULL,
        approximate_invoke_count INTEGER NOT NULL,
        ended_ms INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS outcomes_ended ON outcomes(ended_ms)",
]


def record(conn: sqlite3.Connection, outcome: Outcome) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO outcomes(request_id, function, condition, approximate_invoke_count, ended_ms, data) "
        "VALUES (?,?,?,?,?,?)",
        (
            outcome.request_id,
            outcome.function,
            outcome.condition.value,
            outcome.approximate_invoke_count,
            outcome.ended_ms,
            outcome.to_json(),
        ),
    )


def get(conn: sqlite3.Connection, request_id: str) -> Outcome | None:
    row = conn.execute("SELECT data FROM outcomes WHERE request_id = ?", (request_id,)).fetchone()
    return Outcome.from_json(row[0]) if row else None


PRUNE_BATCH = 5000


def prune(conn: sqlite3.Connection, ended_before_ms: int, limit: int = PRUNE_BATCH) -> int:
    """Delete up to `limit` outcomes that ended before the cutoff (oldest first); how many went."""
    return conn.execute(
        "DELETE FROM outcomes WHERE request_id IN "
        "(SELECT request_id FROM outcomes WHERE ended_ms < ? ORDER BY ended_ms LIMIT ?)",
        (ended_before_ms, limit),
    ).rowcount


class OutcomesStore:
    db: Database

    async def get_outcome(self, request_id: str) -> Outcome | None:
        return self.db.read(lambda c: get(c, request_id))

    async def prune_outcomes(self, ended_before_ms: int) -> int:
        """Every outcome past the cutoff, in batches of PRUNE_BATCH (each its own short write, so the
        writer's other callers wait for one batch at most): keeps up with any steady rate of endings."""
        total = 0
        while True:
            pruned = await self.db.write(lambda c: prune(c, ended_before_ms, PRUNE_BATCH), durable=False)
            total += pruned
            if pruned < PRUNE_BATCH:
                return total
