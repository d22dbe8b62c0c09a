"""Storage: the Store protocol (protocol.py) and its backends. `open_store(settings)` picks one;
SQLite (sqlite/) is the embedded default. Nothing outside this package knows which one runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdalite.settings import Settings
    from lambdalite.store.protocol import Store


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The configured backend. `read_only` for tools beside running servers (`lambdalite queue`): reads
    work, writes raise, and opening it needs no write access and takes no lock.

    `settings.store`: "" for SQLite in the data folder, a postgresql:// URL for PostgreSQL (connected on
    first use; `Store.attach` connects at once and says so when it cannot)."""
    if settings.store:
        from lambdalite.store.errors import StoreUnavailable

        if not settings.store.startswith(("postgresql://", "postgres://")):
            raise StoreUnavailable("the store must be a postgresql://USER:PASS@HOST:PORT/DB URL")
        try:
            from lambdalite.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreUnavailable(f"{exc.name} is not installed: pip install 'lambdalite[postgres]'") from None
        return PostgresStore(settings, read_only=read_only)
    from lambdalite.store.sqlite import SqliteStore

    return SqliteStore(settings, read_only=read_only)


def store_exists(settings: Settings) -> bool:
    """Whether the configured store holds lambdalite data already (read-only tools say so when not)."""
    if settings.store:
        return True  # a database exists once configured; an unreachable one is said when first used
    from lambdalite.store.sqlite import db_path

    return db_path(settings).exists()
