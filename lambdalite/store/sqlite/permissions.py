"""Lambda resource-based policies: the statements of each function qualifier and a revision id."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from lambdalite.faults import Fault
from lambdalite.model.policy_doc import PRECONDITION

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS function_policies (
        function TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        statements BLOB NOT NULL,
        revision_id TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    )""",
]



def get(conn: sqlite3.Connection, function: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
    row = conn.execute("SELECT statements, revision_id FROM function_policies WHERE function = ? AND qualifier = ?",
                       (function, qualifier)).fetchone()
    return (list(orjson.loads(row[0])), str(row[1])) if row else None


def apply_change(conn: sqlite3.Connection, function: str, qualifier: str,
           fn: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], revision_id: str | None) -> str:
    current = get(conn, function, qualifier)
    if revision_id and (current is None or current[1] != revision_id):
        raise Fault(412, "PreconditionFailedException", PRECONDITION)
    statements = fn(current[0] if current else [])
    if not statements:
        conn.execute("DELETE FROM function_policies WHERE function = ? AND qualifier = ?", (function, qualifier))
        return ""
    revision = str(uuid.uuid4())
    conn.execute("INSERT OR REPLACE INTO function_policies(function, qualifier, statements, revision_id) "
                 "VALUES (?,?,?,?)", (function, qualifier, orjson.dumps(statements), revision))
    return revision


class PermissionsStore:
    db: Database

    async def get_policy(self, function: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
        return self.db.read(lambda c: get(c, function, qualifier))

    async def change_policy(
        self, function: str, qualifier: str,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], revision_id: str | None,
    ) -> str:
        return await self.db.write(lambda c: apply_change(c, function, qualifier, change, revision_id))

    async def delete_policies(self, function: str, qualifier: str | None) -> None:
        if qualifier is None:
            await self.db.write(lambda c: c.execute("DELETE FROM function_policies WHERE function = ?", (function,)))
        else:
            await self.db.write(lambda c: c.execute(
                "DELETE FROM function_policies WHERE function = ? AND qualifier = ?", (function, qualifier)))
