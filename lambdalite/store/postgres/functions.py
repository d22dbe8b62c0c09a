"""Functions, versions and aliases on PostgreSQL (the model: store/sqlite/functions.py). Read-modify-
write operations lock the function's row (FOR UPDATE), as nodes change functions concurrently."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.model.function import FunctionRow
from lambdalite.model.function import FunctionTarget as Target
from lambdalite.store.errors import AlreadyExists, LimitExceeded, Missing
from lambdalite.store.postgres.queues import affected

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_SELECT = "SELECT name, reserved_concurrency, config, recursion, next_version FROM functions"


def _row(r: Any) -> FunctionRow:
    return FunctionRow(r[0], orjson.loads(r[2]), r[1], r[3], r[4])


async def get_function(conn: Conn, name: str, *, lock: bool = False) -> FunctionRow | None:
    r = await conn.fetchrow(_SELECT + " WHERE name = $1" + (" FOR UPDATE" if lock else ""), name)
    return _row(r) if r else None


async def _version_config(conn: Conn, name: str, version: str) -> dict[str, Any] | None:
    config = await conn.fetchval("SELECT config FROM function_versions WHERE name = $1 AND version = $2",
                                 name, int(version))
    return orjson.loads(config) if config is not None else None


async def _alias_config(conn: Conn, name: str, alias: str) -> dict[str, Any] | None:
    config = await conn.fetchval("SELECT config FROM function_aliases WHERE name = $1 AND alias = $2", name, alias)
    return orjson.loads(config) if config is not None else None


async def find_target(conn: Conn, name: str, qualifier: str) -> Target | None:
    function = await get_function(conn, name)
    if function is None:
        return None
    if qualifier == "$LATEST":
        return Target(function, function.config, "$LATEST", None)
    if qualifier.isdigit():
        config = await _version_config(conn, name, qualifier)
        return Target(function, config, qualifier, None) if config else None
    alias = await _alias_config(conn, name, qualifier)
    if alias is None:
        return None
    version = alias["FunctionVersion"]
    config = function.config if version == "$LATEST" else await _version_config(conn, name, version)
    return Target(function, config, version, alias) if config else None


async def _publish(conn: Conn, name: str, description: str | None) -> dict[str, Any]:
    """Publish $LATEST as a new version, or return the last version if nothing changed since."""
    function = await get_function(conn, name, lock=True)
    if function is None:
        raise Missing(name)
    latest = function.config
    last = await conn.fetchrow(
        "SELECT config, source_revision FROM function_versions WHERE name = $1 ORDER BY version DESC LIMIT 1", name)
    if last is not None and last[1] == latest["RevisionId"]:
        return dict(orjson.loads(last[0]))
    number = function.next_version
    config = {**latest, "Version": str(number), "FunctionArn": f"{latest['FunctionArn']}:{number}",
              "RevisionId": str(uuid.uuid4())}
    if description is not None:
        config["Description"] = description
    await conn.execute(
        """INSERT INTO function_versions(name, version, config, code_sha, source_revision)
           SELECT name, $2, $3, code_sha, $4 FROM functions WHERE name = $1""",
        name, number, orjson.dumps(config), latest["RevisionId"])
    await conn.execute("UPDATE functions SET next_version = $1 WHERE name = $2", number + 1, name)
    return config


async def _unused_code(conn: Conn, candidates: set[str]) -> list[str]:
    unused = []
    for sha in candidates:
        used = await conn.fetchval(
            "SELECT 1 FROM functions WHERE code_sha = $1 UNION ALL SELECT 1 FROM function_versions WHERE code_sha = $1"
            " LIMIT 1", sha)
        if not used:
            unused.append(sha)
    return unused


class FunctionsStore:
    db: PgDatabase

    def config_changed(self) -> None:
        """Hook: this process changed configuration (the facade drops its cache)."""

    async def _config_write(self, fn: Callable[[Conn], Any]) -> Any:
        try:
            return await self.db.write(fn)
        finally:
            self.config_changed()

    # ---- reads ----------------------------------------------------------------------------------
    async def get_function(self, name: str) -> FunctionRow | None:
        r = await self.db.fetchrow(_SELECT + " WHERE name = $1", name)
        return _row(r) if r else None

    async def function_exists(self, name: str) -> bool:
        return await self.db.fetchval("SELECT 1 FROM functions WHERE name = $1", name) is not None

    async def find_target(self, name: str, qualifier: str) -> Target | None:
        return await self.db.read(lambda c: find_target(c, name, qualifier))

    async def get_version(self, name: str, version: str) -> dict[str, Any] | None:
        return await self.db.read(lambda c: _version_config(c, name, version))

    async def get_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        return await self.db.read(lambda c: _alias_config(c, name, alias))

    async def reserved_concurrency_total(self, excluding: str | None = None) -> int:
        total = await self.db.fetchval(
            "SELECT coalesce(sum(reserved_concurrency), 0) FROM functions WHERE name IS DISTINCT FROM $1", excluding)
        return int(total)

    async def list_functions(self, after: str, limit: int) -> tuple[list[FunctionRow], bool]:
        rows = await self.db.fetch(_SELECT + " WHERE name > $1 ORDER BY name LIMIT $2", after, limit + 1)
        return [_row(r) for r in rows[:limit]], len(rows) > limit

    async def list_versions(self, name: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT config FROM function_versions WHERE name = $1 ORDER BY version", name)
        return [orjson.loads(r[0]) for r in rows]

    async def list_aliases(self, name: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT config FROM function_aliases WHERE name = $1 ORDER BY alias", name)
        return [orjson.loads(r[0]) for r in rows]

    async def code_usage(self) -> tuple[int, int]:
        async def fn(c: Conn) -> tuple[int, int]:
            count = await c.fetchval("SELECT count(*) FROM functions")
            total = 0
            for r in await c.fetch("SELECT config FROM functions UNION ALL SELECT config FROM function_versions"):
                total += int(orjson.loads(r[0]).get("CodeSize", 0))
            return int(count), total

        return await self.db.read(fn)

    # ---- writes ---------------------------------------------------------------------------------
    async def create_function(self, config: dict[str, Any], code_sha: str, publish: bool) -> dict[str, Any]:
        name = config["FunctionName"]

        async def fn(c: Conn) -> dict[str, Any]:
            inserted = await c.fetchval(
                "INSERT INTO functions(name, config, code_sha) VALUES ($1,$2,$3) ON CONFLICT (name) DO NOTHING"
                " RETURNING 1", name, orjson.dumps(config), code_sha)
            if inserted is None:
                raise AlreadyExists(name)
            return await _publish(c, name, None) if publish else config

        result: dict[str, Any] = await self._config_write(fn)
        return result

    async def update_latest(self, name: str, change: Any, code_sha: str | None,
                            publish: bool) -> tuple[dict[str, Any], list[str]]:
        async def fn(c: Conn) -> tuple[dict[str, Any], list[str]]:
            row = await c.fetchrow("SELECT config, code_sha FROM functions WHERE name = $1 FOR UPDATE", name)
            if row is None:
                raise Missing(name)
            config = change(orjson.loads(row[0]))
            new_sha = code_sha or row[1]
            await c.execute("UPDATE functions SET config = $1, code_sha = $2 WHERE name = $3",
                            orjson.dumps(config), new_sha, name)
            answer = await _publish(c, name, None) if publish else config
            return answer, await _unused_code(c, {row[1]} - {new_sha})

        result: tuple[dict[str, Any], list[str]] = await self._config_write(fn)
        return result

    async def publish_version(self, name: str, description: str | None) -> dict[str, Any]:
        result: dict[str, Any] = await self._config_write(lambda c: _publish(c, name, description))
        return result

    async def delete_function(self, name: str) -> list[str]:
        async def fn(c: Conn) -> list[str]:
            shas = {r[0] for r in await c.fetch("SELECT code_sha FROM functions WHERE name = $1 FOR UPDATE", name)}
            if not shas:
                raise Missing(name)
            shas |= {r[0] for r in await c.fetch("SELECT code_sha FROM function_versions WHERE name = $1", name)}
            await c.execute("DELETE FROM function_aliases WHERE name = $1", name)
            await c.execute("DELETE FROM function_versions WHERE name = $1", name)
            await c.execute("DELETE FROM functions WHERE name = $1", name)
            return await _unused_code(c, shas)

        result: list[str] = await self._config_write(fn)
        return result

    async def delete_version(self, name: str, version: str) -> list[str]:
        async def fn(c: Conn) -> list[str]:
            sha = await c.fetchval("DELETE FROM function_versions WHERE name = $1 AND version = $2 RETURNING code_sha",
                                   name, int(version))
            return [] if sha is None else await _unused_code(c, {sha})

        result: list[str] = await self._config_write(fn)
        return result

    async def put_alias(self, name: str, alias: str, config: dict[str, Any], *, create: bool) -> dict[str, Any]:
        async def fn(c: Conn) -> dict[str, Any]:
            blob = orjson.dumps(config)
            if create:
                status = await c.execute("INSERT INTO function_aliases(name, alias, config) VALUES ($1,$2,$3) "
                                         "ON CONFLICT DO NOTHING", name, alias, blob)
                if affected(status) == 0:
                    raise AlreadyExists(alias)
                return config
            status = await c.execute("UPDATE function_aliases SET config = $3 WHERE name = $1 AND alias = $2",
                                     name, alias, blob)
            if affected(status) == 0:
                raise Missing(alias)
            return config

        result: dict[str, Any] = await self._config_write(fn)
        return result

    async def delete_alias(self, name: str, alias: str) -> bool:
        async def fn(c: Conn) -> bool:
            return affected(await c.execute("DELETE FROM function_aliases WHERE name = $1 AND alias = $2",
                                            name, alias)) > 0

        return bool(await self._config_write(fn))

    async def set_reserved_concurrency(self, name: str, reserved: int | None, max_total: int | None = None) -> None:
        async def fn(c: Conn) -> None:
            if max_total is not None and reserved is not None:
                await c.execute("LOCK TABLE functions IN SHARE ROW EXCLUSIVE MODE")  # one reservation at a time
                others = await c.fetchval(
                    "SELECT coalesce(sum(reserved_concurrency), 0) FROM functions WHERE name != $1", name)
                if others + reserved > max_total:
                    raise LimitExceeded("reserved concurrency over the account's limit")
            status = await c.execute("UPDATE functions SET reserved_concurrency = $1 WHERE name = $2", reserved, name)
            if affected(status) == 0:
                raise Missing(name)

        await self._config_write(fn)

    async def set_recursion(self, name: str, mode: str) -> None:
        async def fn(c: Conn) -> None:
            if affected(await c.execute("UPDATE functions SET recursion = $1 WHERE name = $2", mode, name)) == 0:
                raise Missing(name)

        await self._config_write(fn)
