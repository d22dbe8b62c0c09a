"""How each async event ended (the model: store/sqlite/outcomes.py); `record` joins the transaction that
deletes the ended event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdalite.model.outcome import Outcome
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase


async def record_many(conn: Conn, ended: list[Outcome]) -> None:
    """Inside the transaction that deletes the ended events: one row per request id (the last wins)."""
    latest = {o.request_id: o for o in ended}
    if not latest:
        return
    rows = list(latest.values())
    await conn.execute(
        """INSERT INTO outcomes(request_id, function, condition, approximate_invoke_count, ended_ms, data)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bytea[])
           ON CONFLICT (request_id) DO UPDATE SET function = excluded.function, condition = excluded.condition,
               approximate_invoke_count = excluded.approximate_invoke_count, ended_ms = excluded.ended_ms,
               data = excluded.data""",
        [o.request_id for o in rows], [o.function for o in rows], [o.condition.value for o in rows],
        [o.approximate_invoke_count for o in rows], [o.ended_ms for o in rows], [o.to_json() for o in rows],
    )


class OutcomesStore:
    db: PgDatabase

    async def get_outcome(self, request_id: str) -> Outcome | None:
        data = await self.db.fetchval("SELECT data FROM outcomes WHERE request_id = $1", request_id)
        return Outcome.from_json(data) if data is not None else None

    async def prune_outcomes(self, ended_before_ms: int, limit: int = 5000) -> int:
        async def prune(c: Conn) -> int:
            return affected(await c.execute(
                "DELETE FROM outcomes WHERE request_id IN "
                "(SELECT request_id FROM outcomes WHERE ended_ms < $1 ORDER BY ended_ms LIMIT $2)",
                ended_before_ms, limit))

        total = 0
        while True:  # every outcome past the cutoff, one bounded batch per write: keeps up with any rate
            pruned = await self.db.write(prune, durable=False)
            total += pruned
            if pruned < limit:
                return total
