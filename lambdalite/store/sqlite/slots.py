"""Concurrency slots shared by every process on one data folder.

A slot is held while an invocation runs (sync or async). Acquire counts the live slots of the account
and of the function in the same transaction that inserts the new one, so two processes cannot both take
the last slot. Slots carry an expiry that their process renews while it holds them; a killed process's
slots lapse, and so does a slot whose release write failed.
"""

from __future__ import annotations

import sqlite3

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS slots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        function TEXT NOT NULL,
        holder TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS slots_function ON slots(function, expires_ms)",
    "CREATE INDEX IF NOT EXISTS slots_holder ON slots(holder)",
]

# Why a slot was refused: the contract's 429 Reasons.
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
FUNCTION_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"


def acquire(
    conn: sqlite3.Connection,
    *,
    function: str,
    reserved: int | None,
    account_limit: int,
    unreserved_floor: int,
    holder: str,
    now_ms: int,
    ttl_ms: int,
) -> int | str:
    """Take a slot: its id, or the 429 Reason when none is free.

    A function with reserved concurrency is limited by it alone. Others share the account limit less
    what is reserved for the rest (`unreserved_floor` = sum of all reservations).
    """
    return acquire_many(conn, [(function, reserved)], account_limit=account_limit, unreserved_floor=unreserved_floor,
                        holder=holder, now_ms=now_ms, ttl_ms=ttl_ms)[0]


def acquire_many(
    conn: sqlite3.Connection,
    wanted: list[tuple[str, int | None]],
    *,
    account_limit: int,
    unreserved_floor: int,
    holder: str,
    now_ms: int,
    ttl_ms: int,
) -> list[int | str]:
    """`acquire` for several (function, reserved concurrency) at once: the live slots are counted once
    for the whole batch (a dispatcher's lease), not once per event."""
    running = dict(
        conn.execute("SELECT function, count(*) FROM slots WHERE expires_ms > ? GROUP BY function", (now_ms,))
    )
    (unreserved,) = conn.execute(
        "SELECT count(*) FROM slots WHERE expires_ms > ? AND function NOT IN "
        "(SELECT name FROM functions WHERE reserved_concurrency IS NOT NULL)",
        (now_ms,),
    ).fetchone()
    taken: list[int | str] = []
    for function, reserved in wanted:
        if reserved is not None and running.get(function, 0) >= reserved:
            taken.append(FUNCTION_LIMIT)
            continue
        if reserved is None and unreserved >= account_limit - unreserved_floor:
            taken.append(ACCOUNT_LIMIT)
            continue
        cur = conn.execute(
            "INSERT INTO slots(function, holder, expires_ms) VALUES (?,?,?)", (function, holder, now_ms + ttl_ms)
        )
        taken.append(int(cur.lastrowid or 0))
        running[function] = running.get(function, 0) + 1
        if reserved is None:
            unreserved += 1
    return taken


def release(conn: sqlite3.Connection, slot_id: int) -> None:
    conn.execute("DELETE FROM slots WHERE id = ?", (slot_id,))


def renew(conn: sqlite3.Connection, slot_ids: list[int], expires_ms: int, now_ms: int) -> None:
    """Keep the slots a process still holds alive; also sweep slots that lapsed.

    By id, not by holder: a slot whose release write failed is no longer held by anyone and must lapse,
    not be renewed for as long as its process lives (it would take a reserved slot for good).
    """
    conn.executemany("UPDATE slots SET expires_ms = ? WHERE id = ?", [(expires_ms, i) for i in slot_ids])
    conn.execute("DELETE FROM slots WHERE expires_ms <= ?", (now_ms,))


def running(conn: sqlite3.Connection, function: str, now_ms: int) -> int:
    (n,) = conn.execute(
        "SELECT count(*) FROM slots WHERE function = ? AND expires_ms > ?", (function, now_ms)
    ).fetchone()
    return int(n)
