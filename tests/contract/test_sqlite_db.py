"""The group-commit writer: results, failure isolation, durability, concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdalite.store.sqlite.db import Database

SCHEMA = ["CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)"]


def _insert(k: str, v: int) -> Callable[[sqlite3.Connection], int]:
    def fn(c: sqlite3.Connection) -> int:
        c.execute("INSERT INTO t(k, v) VALUES (?, ?)", (k, v))
        return v

    return fn


def _write_then_kill_9(path: Path, main: str) -> tuple[int, int]:
    """Run `main` (an `async def main()` writing through `db`) in a child that then SIGKILLs itself.

    Returns the child's exit code and the rows the database holds afterwards.
    """
    script = f"""
import asyncio, os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from pathlib import Path
from lambdalite.store.sqlite.db import Database
db = Database(Path({str(path)!r}), {SCHEMA!r})
{main}
asyncio.run(main())
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], timeout=60)
    db = Database(path, SCHEMA)
    try:
        return proc.returncode, db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        db.close()


def test_many_concurrent_writes_commit_and_return_their_values(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", SCHEMA)

    async def main() -> list[int]:
        return await asyncio.gather(*(db.write(_insert(f"k{i}", i)) for i in range(500)))

    assert asyncio.run(main()) == list(range(500))
    assert db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 500
    db.close()


def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", SCHEMA)

    async def main() -> list[object]:
        return list(await asyncio.gather(
            db.write(_insert("a", 1)), db.write(_insert("a", 2)), db.write(_insert("b", 3)),
            return_exceptions=True,
        ))

    results = asyncio.run(main())
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], sqlite3.IntegrityError)
    rows = db.read(lambda c: c.execute("SELECT k, v FROM t ORDER BY k").fetchall())
    assert rows == [("a", 1), ("b", 3)]
    db.close()


def test_write_sync_from_a_thread(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", SCHEMA)
    assert db.write_sync(_insert("x", 7)) == 7
    with pytest.raises(sqlite3.IntegrityError):
        db.write_sync(_insert("x", 8))
    assert db.read(lambda c: c.execute("SELECT v FROM t WHERE k='x'").fetchone()[0]) == 7
    db.close()


def test_a_returned_write_survives_kill_9(tmp_path: Path) -> None:
    """A child process writes, prints once the write returned, and is SIGKILLed: the row is there."""
    main = """
async def main():
    await asyncio.gather(*(db.write(lambda c, i=i: c.execute("INSERT INTO t VALUES (?, ?)", (str(i), i))) for i in range(100)))
"""
    returncode, rows = _write_then_kill_9(tmp_path / "k.db", main)
    assert returncode == -9
    assert rows == 100


def test_non_durable_writes_survive_a_process_kill_and_mix_with_durable_ones(tmp_path: Path) -> None:
    """durable=False skips the fsync, not the write: a killed process loses nothing it was told about."""
    main = """
async def main():
    ins = lambda i: (lambda c: c.execute("INSERT INTO t VALUES (?, ?)", (str(i), i)))
    await asyncio.gather(*(db.write(ins(i), durable=i % 3 == 0) for i in range(90)))
    await db.write(ins(1000), durable=False)
"""
    returncode, rows = _write_then_kill_9(tmp_path / "n.db", main)
    assert returncode == -9
    assert rows == 91


def test_a_failing_after_commit_hook_does_not_report_a_committed_write_as_failed(tmp_path: Path) -> None:
    """A caller told "failed" after its commit would act on a write that did happen (e.g. a lease whose
    leased events and claimed slots nobody would then run or release)."""
    db = Database(tmp_path / "x.db", SCHEMA)

    def failing_hook(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("database is locked")

    db.after_commit.append(failing_hook)
    try:
        assert db.write_sync(_insert("a", 1)) == 1
        assert asyncio.run(_write_once(db, _insert("b", 2))) == 2
        assert db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 2
    finally:
        db.close()


async def _write_once(db: Database, fn: Callable[[sqlite3.Connection], int]) -> int:
    return await db.write(fn)
