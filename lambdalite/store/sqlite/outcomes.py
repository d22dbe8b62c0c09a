"""SQLite storage for outcomes (placeholder: filled in by its owner)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = []


class OutcomesStore:
    db: Database
