"""The configuration cache: this process's own changes are seen at once, whatever the interleaving."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lambdalite.settings import Settings
from lambdalite.store.sqlite import SqliteStore, event_configs, functions


def _put_config(conn: sqlite3.Connection) -> None:
    event_configs.put(conn, "f", "$LATEST", {"MaximumRetryAttempts": 0}, 0)


def test_own_change_is_seen_at_once_when_a_reread_of_the_counter_races_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(Settings(data_dir=tmp_path / "data"))
    try:
        monkeypatch.setattr(functions, "GENERATION_MAX_AGE_S", 3600.0)
        assert store.get_event_config("f", "$LATEST") is None  # cached as missing

        # A periodic re-read of the counter reads the old value; before it stores that value, the writer
        # commits a change (and refreshes the counter after the commit, as it does after every commit).
        real_read_value = store.db.read_value

        def racing_read_value(*args: Any) -> Any:
            value = real_read_value(*args)
            store.db.write_sync(_put_config)
            return value

        monkeypatch.setattr(store.db, "read_value", racing_read_value)
        monkeypatch.setattr(functions, "GENERATION_MAX_AGE_S", 0.0)
        store.function_generation()
        monkeypatch.setattr(store.db, "read_value", real_read_value)
        monkeypatch.setattr(functions, "GENERATION_MAX_AGE_S", 3600.0)

        # The change was committed (write_sync returned): this process must not serve the old config.
        config = store.get_event_config("f", "$LATEST")
        assert config is not None and config.max_retry_attempts == 0
    finally:
        store.close()
