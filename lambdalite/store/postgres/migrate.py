"""Schema migrations: numbered SQL files in migrations/ (`0001_init.sql`, `0002_...sql`), each applied once,
in order, in its own transaction, and recorded in `schema_migrations`.

Nodes starting together do not race: every node migrates under one session-level advisory lock, so the
second waits for the first and then finds nothing left to do. A new domain adds the next numbered file.
"""

from __future__ import annotations

import re
from importlib import resources

import asyncpg

MIGRATIONS_LOCK = 0x6C616D62  # pg_advisory_lock key ("lamb"): only migrations take it
_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration file, by version."""
    found = []
    for entry in resources.files("lambdalite.store.postgres").joinpath("migrations").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {[name for _, name, _ in found]}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations this database lacks; returns the names applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", version, name)
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK)
    return applied


async def missing(conn: asyncpg.Connection) -> list[str]:
    """The migrations this database lacks (all of them on a database lambdalite never started on)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")} if exists else set()
    return [name for version, name, _ in migrations() if version not in done]


async def migrate_url(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
