"""Lambda resource policies (the model: store/sqlite/permissions.py). A change locks its row (made first,
empty, if missing); an empty row is no policy."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.faults import Fault
from lambdalite.model.policy_doc import PRECONDITION

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase


class PermissionsStore:
    db: PgDatabase

    async def get_policy(self, function: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
        row = await self.db.fetchrow("SELECT statements, revision_id FROM function_policies "
                                     "WHERE function = $1 AND qualifier = $2", function, qualifier)
        if row is None:
            return None
        statements = list(orjson.loads(row[0]))
        return (statements, str(row[1])) if statements else None

    async def change_policy(
        self, function: str, qualifier: str,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], revision_id: str | None,
    ) -> str:
        async def write(c: Conn) -> str:
            await c.execute("INSERT INTO function_policies(function, qualifier, statements, revision_id) "
                            "VALUES ($1, $2, $3, '') ON CONFLICT DO NOTHING", function, qualifier, b"[]")
            row = await c.fetchrow("SELECT statements, revision_id FROM function_policies "
                                   "WHERE function = $1 AND qualifier = $2 FOR UPDATE", function, qualifier)
            current = list(orjson.loads(row[0]))
            if revision_id and (not current or row[1] != revision_id):
                raise Fault(412, "PreconditionFailedException", PRECONDITION)
            statements = change(current)
            if not statements:
                await c.execute("DELETE FROM function_policies WHERE function = $1 AND qualifier = $2",
                                function, qualifier)
                return ""
            revision = str(uuid.uuid4())
            await c.execute("UPDATE function_policies SET statements = $1, revision_id = $2 "
                            "WHERE function = $3 AND qualifier = $4", orjson.dumps(statements), revision,
                            function, qualifier)
            return revision

        return await self.db.write(write)

    async def delete_policies(self, function: str, qualifier: str | None) -> None:
        async def write(c: Conn) -> None:
            if qualifier is None:
                await c.execute("DELETE FROM function_policies WHERE function = $1", function)
            else:
                await c.execute("DELETE FROM function_policies WHERE function = $1 AND qualifier = $2",
                                function, qualifier)

        await self.db.write(write)
