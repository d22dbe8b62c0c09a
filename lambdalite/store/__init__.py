"""Storage: the Store protocol (protocol.py) and its backends. `open_store(settings)` picks one;
SQLite (sqlite/) is the embedded default. Nothing outside this package knows which one runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.protocol import Store


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The configured backend. `read_only` for tools beside running servers (`lambdalite queue`): reads
    work, writes raise, and opening it needs no write access and takes no lock."""
    from lambdalite.store.sqlite import SqliteStore

    return SqliteStore(settings, read_only=read_only)


def store_exists(settings: Settings) -> bool:
    """Whether the configured store holds lambdalite data already (read-only tools say so when not)."""
    from lambdalite.store.sqlite import db_path

    return db_path(settings).exists()
