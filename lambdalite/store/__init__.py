"""Storage backends. `open_store(settings)` picks one; SQLite is the embedded default.

A backend is one class whose methods are grouped per domain (functions, event invoke configs, queues,
concurrency slots, SQS metadata, event buses, outcomes); each group lives in its own module so that the
contract tests (tests/contract) can run the same cases against every backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.sqlite import SqliteStore


def open_store(settings: Settings) -> SqliteStore:
    from lambdalite.store.sqlite import SqliteStore

    return SqliteStore(settings)
