"""The store backends the contract suite runs against, and how a test opens one.

A backend is opened only through `lambdalite.store.open_store(settings)`, as lambdalite itself does, and
used only through the `Store` protocol. A second backend (PostgreSQL) plugs in by adding its name to
BACKENDS and a branch to `backend_settings` that points its Settings at a fresh database (or schema)
keyed by `data_dir`: every case of tests/contract then runs on it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambdalite.settings import Settings
from lambdalite.store import open_store
from lambdalite.store.protocol import Store

BACKENDS = ["sqlite", "postgresql"]
# A fresh database per deployment (data_dir) on the session's private PostgreSQL (tests/support/postgres.py).
_databases: dict[Path, str] = {}


def backend_settings(name: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings that select backend `name`, with its data identified by `data_dir`: stores opened with
    the same `data_dir` share their data (two processes on one deployment), another `data_dir` is a
    fresh, empty deployment."""
    if name == "sqlite":
        return Settings(data_dir=data_dir, **overrides)
    if name == "postgresql":
        url = _databases.get(data_dir)
        if url is None:
            from tests.support import postgres

            url = _databases[data_dir] = postgres.server().fresh_database()
        return Settings(data_dir=data_dir, store=url, **overrides)
    raise ValueError(f"unknown store backend {name!r}")


def open_backend(name: str, data_dir: Path, **overrides: Any) -> Store:
    return open_store(backend_settings(name, data_dir, **overrides))


class Backend:
    """One backend's fresh deployment for one test: open as many store instances on it as the test
    needs (each stands for another lambdalite process); all are closed at the end of the test."""

    def __init__(self, name: str, data_dir: Path):
        self.name = name
        self.data_dir = data_dir
        self._opened: list[Store] = []

    def settings(self, **overrides: Any) -> Settings:
        return backend_settings(self.name, self.data_dir, **overrides)

    def open(self, **overrides: Any) -> Store:
        """A new store instance on this deployment's data, with these settings."""
        store = open_store(self.settings(**overrides))
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in reversed(self._opened):
            store.close()
        self._opened.clear()
        url = _databases.pop(self.data_dir, None)
        if url is not None:
            from tests.support import postgres

            postgres.server().drop_database(url)
