"""How each async event ended, queryable by request id (operators, tests, `lambdalite queue`).

`record` runs in the same transaction that deletes the ended event from its queue. Delivery being
at-least-once, an event may end twice (a lease lapsed mid-run): the later outcome replaces the earlier.
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
    "CREATE INDEX IF NOT EXISTS outcomes_function ON outcomes(function, ended_ms)",
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


def count_by_condition(conn: sqlite3.Connection, function: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT condition, count(*) FROM outcomes WHERE function = ? GROUP BY condition", (function,)
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def delete_for_function(conn: sqlite3.Connection, function: str) -> int:
    return conn.execute("DELETE FROM outcomes WHERE function = ?", (function,)).rowcount


class OutcomesStore:
    db: Database

    def get_outcome(self, request_id: str) -> Outcome | None:
        return self.db.read(lambda c: get(c, request_id))
