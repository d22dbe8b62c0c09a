"""SQLite storage for functions, versions and aliases.

The `functions` table's `name` and `reserved_concurrency` columns are read by slots.py: keep them.
Configurations are stored as the AWS FunctionConfiguration JSON (orjson); `functions.config` is $LATEST,
`function_versions` holds published versions, `function_aliases` the AliasConfiguration JSON.
`code_sha` columns (hex) tell which code packages are still in use.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.function import FunctionRow
from lambdalite.model.function import FunctionTarget as Target
from lambdalite.store.errors import AlreadyExists, LimitExceeded, Missing

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS functions (
        name TEXT PRIMARY KEY,
        reserved_concurrency INTEGER,
        config BLOB NOT NULL,
        code_sha TEXT NOT NULL DEFAULT '',
        recursion TEXT NOT NULL DEFAULT 'Terminate',
        next_version INTEGER NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE IF NOT EXISTS function_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        config BLOB NOT NULL,
        code_sha TEXT NOT NULL,
        source_revision TEXT NOT NULL,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS function_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        config BLOB NOT NULL,
        PRIMARY KEY (name, alias)
    )""",
    # A counter bumped by every change to functions, versions or aliases (triggers, so no write path can
    # forget it): readers cache resolved functions and re-read only when it moved, in any process.
    "CREATE TABLE IF NOT EXISTS function_generation (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO function_generation(id, gen) VALUES (1, 0)",
    *[
        f"""CREATE TRIGGER IF NOT EXISTS {table}_{op.lower()}_gen AFTER {op} ON {table}
            BEGIN UPDATE function_generation SET gen = gen + 1 WHERE id = 1; END"""
        for table in ("functions", "function_versions", "function_aliases")
        for op in ("INSERT", "UPDATE", "DELETE")
    ],
]


_GENERATION_SQL = "SELECT gen FROM function_generation WHERE id = 1"
GENERATION_MAX_AGE_S = 0.1
# The counter only grows; the writer thread and the readers store it under this lock, keeping the larger
# value, so a reader's slower re-read cannot put back a value older than the writer's last commit.
_GENERATION_LOCK = threading.Lock()


def _row(r: tuple[Any, ...]) -> FunctionRow:
    return FunctionRow(r[0], orjson.loads(r[2]), r[1], r[3], r[4])


_SELECT = "SELECT name, reserved_concurrency, config, recursion, next_version FROM functions"


def get_function(conn: sqlite3.Connection, name: str) -> FunctionRow | None:
    r = conn.execute(_SELECT + " WHERE name = ?", (name,)).fetchone()
    return _row(r) if r else None


def _version_config(conn: sqlite3.Connection, name: str, version: str) -> dict[str, Any] | None:
    r = conn.execute(
        "SELECT config FROM function_versions WHERE name = ? AND version = ?", (name, int(version))
    ).fetchone()
    return orjson.loads(r[0]) if r else None


def _alias_config(conn: sqlite3.Connection, name: str, alias: str) -> dict[str, Any] | None:
    r = conn.execute(
        "SELECT config FROM function_aliases WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    return orjson.loads(r[0]) if r else None


def find_target(conn: sqlite3.Connection, name: str, qualifier: str) -> Target | None:
    """Resolve `qualifier` ($LATEST, version, alias) of `name`; None when any part is missing."""
    function = get_function(conn, name)
    if function is None:
        return None
    if qualifier == "$LATEST":
        return Target(function, function.config, "$LATEST", None)
    if qualifier.isdigit():
        config = _version_config(conn, name, qualifier)
        return Target(function, config, qualifier, None) if config else None
    alias = _alias_config(conn, name, qualifier)
    if alias is None:
        return None
    version = alias["FunctionVersion"]
    config = function.config if version == "$LATEST" else _version_config(conn, name, version)
    return Target(function, config, version, alias) if config else None


def _publish(conn: sqlite3.Connection, name: str, description: str | None) -> dict[str, Any]:
    """Publish $LATEST as a new version, or return the last version if nothing changed since."""
    function = get_function(conn, name)
    if function is None:
        raise Missing(name)
    latest = function.config
    last = conn.execute(
        "SELECT config, source_revision FROM function_versions WHERE name = ? ORDER BY version DESC LIMIT 1",
        (name,),
    ).fetchone()
    if last is not None and last[1] == latest["RevisionId"]:
        return dict(orjson.loads(last[0]))
    number = function.next_version
    config = {
        **latest,
        "Version": str(number),
        "FunctionArn": f"{latest['FunctionArn']}:{number}",
        "RevisionId": str(uuid.uuid4()),
    }
    if description is not None:
        config["Description"] = description
    code_sha = conn.execute("SELECT code_sha FROM functions WHERE name = ?", (name,)).fetchone()[0]
    conn.execute(
        "INSERT INTO function_versions(name, version, config, code_sha, source_revision) VALUES (?,?,?,?,?)",
        (name, number, orjson.dumps(config), code_sha, latest["RevisionId"]),
    )
    conn.execute("UPDATE functions SET next_version = ? WHERE name = ?", (number + 1, name))
    return config


def _unused_code(conn: sqlite3.Connection, candidates: set[str]) -> list[str]:
    unused = []
    for sha in candidates:
        used = conn.execute(
            "SELECT 1 FROM functions WHERE code_sha = ? UNION ALL SELECT 1 FROM function_versions WHERE code_sha = ? LIMIT 1",
            (sha, sha),
        ).fetchone()
        if not used:
            unused.append(sha)
    return unused


def _page(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    return rows[:limit], len(rows) > limit


class FunctionsStore:
    """Functions, versions, aliases, reserved concurrency and recursion settings."""

    db: Database

    # ---- reads ----------------------------------------------------------------------------------
    _generation: tuple[int, float] = (-1, 0.0)  # (value, time.monotonic() it was read)

    def function_generation(self) -> int:
        """Moves whenever any function, version, alias or event invoke config changes, in any process.

        The writer re-reads it after each of its commits (`watch_generation`), so this process's own
        changes are seen at once; another process's within GENERATION_MAX_AGE_S. Reading it per request
        would start a read transaction per request, the largest cost of a warm accept.
        """
        value, read_s = self._generation
        now_s = time.monotonic()
        if now_s - read_s > GENERATION_MAX_AGE_S:
            value = self._store_generation(int(self.db.read_value(_GENERATION_SQL) or 0), now_s)
        return value

    def _store_generation(self, value: int, read_s: float) -> int:
        with _GENERATION_LOCK:
            value = max(value, self._generation[0])
            self._generation = (value, read_s)
        return value

    def watch_generation(self) -> None:
        """Keep the cached generation fresh from the writer thread, after every commit."""

        def refresh(conn: sqlite3.Connection) -> None:
            try:
                value = int(conn.execute(_GENERATION_SQL).fetchone()[0])
            except sqlite3.Error:
                with _GENERATION_LOCK:  # unknown now: the next use re-reads it
                    self._generation = (self._generation[0], float("-inf"))
                raise
            self._store_generation(value, time.monotonic())

        self.db.after_commit.append(refresh)

    async def get_function(self, name: str) -> FunctionRow | None:
        return self.db.read(lambda c: get_function(c, name))

    async def function_exists(self, name: str) -> bool:
        return self.db.read_value("SELECT 1 FROM functions WHERE name = ?", (name,)) is not None

    async def find_target(self, name: str, qualifier: str) -> Target | None:
        return self.db.read(lambda c: find_target(c, name, qualifier))

    async def get_version(self, name: str, version: str) -> dict[str, Any] | None:
        return self.db.read(lambda c: _version_config(c, name, version))

    async def get_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        return self.db.read(lambda c: _alias_config(c, name, alias))

    async def reserved_concurrency_total(self, excluding: str | None = None) -> int:
        """Sum of every function's reserved concurrency (the unreserved pool's floor)."""
        (total,) = self.db.read(
            lambda c: c.execute(
                "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name IS NOT ?",
                (excluding,),
            ).fetchone()
        )
        return int(total)

    async def list_functions(self, after: str, limit: int) -> tuple[list[FunctionRow], bool]:
        rows = self.db.read(
            lambda c: c.execute(
                _SELECT + " WHERE name > ? ORDER BY name LIMIT ?", (after, limit + 1)
            ).fetchall()
        )
        page, more = _page(rows, limit)
        return [_row(r) for r in page], more

    async def list_versions(self, name: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT config FROM function_versions WHERE name = ? ORDER BY version", (name,)
            ).fetchall()
        )
        return [orjson.loads(r[0]) for r in rows]

    async def list_aliases(self, name: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT config FROM function_aliases WHERE name = ? ORDER BY alias", (name,)
            ).fetchall()
        )
        return [orjson.loads(r[0]) for r in rows]

    async def code_usage(self) -> tuple[int, int]:
        """(function count, total code bytes of every stored version) for GetAccountSettings."""

        def fn(c: sqlite3.Connection) -> tuple[int, int]:
            (count,) = c.execute("SELECT count(*) FROM functions").fetchone()
            total = 0
            for (blob,) in c.execute(
                "SELECT config FROM functions UNION ALL SELECT config FROM function_versions"
            ):
                total += int(orjson.loads(blob).get("CodeSize", 0))
            return int(count), total

        return self.db.read(fn)

    # ---- writes ---------------------------------------------------------------------------------
    async def create_function(self, config: dict[str, Any], code_sha: str, publish: bool) -> dict[str, Any]:
        """Insert $LATEST (and version 1 when publishing); returns the config to answer with."""
        name = config["FunctionName"]

        def fn(c: sqlite3.Connection) -> dict[str, Any]:
            if get_function(c, name) is not None:
                raise AlreadyExists(name)
            c.execute(
                "INSERT INTO functions(name, config, code_sha) VALUES (?,?,?)",
                (name, orjson.dumps(config), code_sha),
            )
            return _publish(c, name, None) if publish else config

        return await self.db.write(fn)

    async def update_latest(
        self, name: str, change: Any, code_sha: str | None, publish: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """Apply `change(config) -> config` to $LATEST; returns (answer config, code no longer used)."""

        def fn(c: sqlite3.Connection) -> tuple[dict[str, Any], list[str]]:
            row = c.execute("SELECT config, code_sha FROM functions WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise Missing(name)
            config = change(orjson.loads(row[0]))
            new_sha = code_sha or row[1]
            c.execute(
                "UPDATE functions SET config = ?, code_sha = ? WHERE name = ?",
                (orjson.dumps(config), new_sha, name),
            )
            answer = _publish(c, name, None) if publish else config
            return answer, _unused_code(c, {row[1]} - {new_sha})

        return await self.db.write(fn)

    async def publish_version(self, name: str, description: str | None) -> dict[str, Any]:
        return await self.db.write(lambda c: _publish(c, name, description))

    async def delete_function(self, name: str) -> list[str]:
        """Delete the function with its versions and aliases; returns code packages no longer used."""

        def fn(c: sqlite3.Connection) -> list[str]:
            shas = {r[0] for r in c.execute("SELECT code_sha FROM functions WHERE name = ?", (name,))}
            if not shas:
                raise Missing(name)
            shas |= {
                r[0] for r in c.execute("SELECT code_sha FROM function_versions WHERE name = ?", (name,))
            }
            c.execute("DELETE FROM function_aliases WHERE name = ?", (name,))
            c.execute("DELETE FROM function_versions WHERE name = ?", (name,))
            c.execute("DELETE FROM functions WHERE name = ?", (name,))
            return _unused_code(c, shas)

        return await self.db.write(fn)

    async def delete_version(self, name: str, version: str) -> list[str]:
        def fn(c: sqlite3.Connection) -> list[str]:
            r = c.execute(
                "SELECT code_sha FROM function_versions WHERE name = ? AND version = ?", (name, int(version))
            ).fetchone()
            if r is None:
                return []
            c.execute("DELETE FROM function_versions WHERE name = ? AND version = ?", (name, int(version)))
            return _unused_code(c, {r[0]})

        return await self.db.write(fn)

    async def put_alias(
        self, name: str, alias: str, config: dict[str, Any], *, create: bool
    ) -> dict[str, Any]:
        def fn(c: sqlite3.Connection) -> dict[str, Any]:
            exists = _alias_config(c, name, alias) is not None
            if create and exists:
                raise AlreadyExists(alias)
            if not create and not exists:
                raise Missing(alias)
            c.execute(
                "INSERT OR REPLACE INTO function_aliases(name, alias, config) VALUES (?,?,?)",
                (name, alias, orjson.dumps(config)),
            )
            return config

        return await self.db.write(fn)

    async def delete_alias(self, name: str, alias: str) -> bool:
        def fn(c: sqlite3.Connection) -> bool:
            cur = c.execute("DELETE FROM function_aliases WHERE name = ? AND alias = ?", (name, alias))
            return cur.rowcount > 0

        return await self.db.write(fn)

    async def set_reserved_concurrency(
        self, name: str, reserved: int | None, max_total: int | None = None
    ) -> None:
        """Set (or clear with None) reserved concurrency; with max_total, refuse (LimitExceeded) past it."""

        def fn(c: sqlite3.Connection) -> None:
            if max_total is not None and reserved is not None:
                (others,) = c.execute(
                    "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name != ?", (name,)
                ).fetchone()
                if others + reserved > max_total:
                    raise LimitExceeded("reserved concurrency over the account's limit")
            cur = c.execute("UPDATE functions SET reserved_concurrency = ? WHERE name = ?", (reserved, name))
            if cur.rowcount == 0:
                raise Missing(name)

        await self.db.write(fn)

    async def set_recursion(self, name: str, mode: str) -> None:
        def fn(c: sqlite3.Connection) -> None:
            if c.execute("UPDATE functions SET recursion = ? WHERE name = ?", (mode, name)).rowcount == 0:
                raise Missing(name)

        await self.db.write(fn)
