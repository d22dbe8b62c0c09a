"""SQLite storage for functions, versions and aliases.

The `functions` table's `name` and `reserved_concurrency` columns are read by slots.py: keep them.
Configurations are stored as the AWS FunctionConfiguration JSON (orjson) plus lambdalite's internal keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS functions (
        name TEXT PRIMARY KEY,
        reserved_concurrency INTEGER,
        config BLOB NOT NULL
    )""",
]


class FunctionsStore:
    db: Database
