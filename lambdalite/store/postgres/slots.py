"""Concurrency slots of every node on one database (see store/sqlite/slots.py for the model).

Taking slots counts the live slots of the account and of the function under one transaction-level
advisory lock, in the transaction that inserts the new ones (a lease's own): two nodes cannot both take
the last slot. Slots expire unless their node renews them, so a dead node's slots come back after the
lease time.
"""

from __future__ import annotations

from typing import Any, TypeAlias

ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
FUNCTION_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
SLOTS_LOCK = 0x736C6F74  # pg_advisory_xact_lock key ("slot"): held from counting to COMMIT
Conn: TypeAlias = Any  # asyncpg.Connection (asyncpg ships no type hints)


async def reserved_total(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT coalesce(sum(reserved_concurrency), 0) FROM functions") or 0)


async def acquire_many(conn: Conn, wanted: list[tuple[str, int | None]], *, account_limit: int,
                       unreserved_floor: int | None, holder: str, now_ms: int, ttl_ms: int) -> list[int | str]:
    """A slot id or the 429 Reason for each (function, reserved concurrency); `unreserved_floor` None:
    the sum of all reservations, read under the lock."""
    if not wanted:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock($1)", SLOTS_LOCK)
    floor = await reserved_total(conn) if unreserved_floor is None else unreserved_floor
    running = {r[0]: int(r[1]) for r in await conn.fetch(
        "SELECT function, count(*) FROM slots WHERE expires_ms > $1 GROUP BY function", now_ms)}
    unreserved = int(await conn.fetchval(
        "SELECT count(*) FROM slots WHERE expires_ms > $1 AND function NOT IN "
        "(SELECT name FROM functions WHERE reserved_concurrency IS NOT NULL)", now_ms))
    decided: list[int | str | None] = []
    granted: list[str] = []
    for function, reserved in wanted:
        if reserved is not None and running.get(function, 0) >= reserved:
            decided.append(FUNCTION_LIMIT)
            continue
        if reserved is None and unreserved >= account_limit - floor:
            decided.append(ACCOUNT_LIMIT)
            continue
        decided.append(None)
        granted.append(function)
        running[function] = running.get(function, 0) + 1
        if reserved is None:
            unreserved += 1
    by_function: dict[str, list[int]] = {}
    if granted:
        for r in await conn.fetch(
            "INSERT INTO slots(function, holder, expires_ms) SELECT f, $2, $3 FROM unnest($1::text[]) AS g(f) "
            "RETURNING id, function", granted, holder, now_ms + ttl_ms):
            by_function.setdefault(r[1], []).append(int(r[0]))
    return [by_function[function].pop() if d is None else d for (function, _), d in zip(wanted, decided, strict=True)]

async def release(conn: Conn, slot_id: int) -> None:
    await conn.execute("DELETE FROM slots WHERE id = $1", slot_id)


async def release_many(conn: Conn, slot_ids: list[int]) -> None:
    if slot_ids:
        await conn.execute("DELETE FROM slots WHERE id = ANY($1::bigint[])", slot_ids)


async def renew(conn: Conn, slot_ids: list[int], expires_ms: int, now_ms: int) -> None:
    """Keep the slots this node still holds alive (by id) and sweep lapsed ones of every node."""
    if slot_ids:
        await conn.execute("UPDATE slots SET expires_ms = $1 WHERE id = ANY($2::bigint[])", expires_ms, slot_ids)
    await conn.execute("DELETE FROM slots WHERE expires_ms <= $1", now_ms)
