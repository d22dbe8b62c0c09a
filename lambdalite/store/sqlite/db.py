"""SQLite with one writer thread and group commit.

Why: a 202 may only be sent once its event is on disk, and one fsync per request would cap the accept
rate at the disk's fsync rate. Every write is a function run by the writer thread; the writer drains
everything queued, runs each function in its own SAVEPOINT (one failure cannot spoil its neighbours),
commits once (WAL + synchronous=FULL: one fsync) and only then resolves all the callers' futures.

Reads use a connection per thread (WAL readers never wait for the writer). Several processes may open the
same file (API and workers); SQLite's file locks serialise their writers, `busy_timeout` waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]

_MAX_BATCH = 2048
_BUSY_TIMEOUT_MS = 30_000
_CACHE_KIB = 65_536  # page cache per connection: the queue's indexes stay in memory
_MMAP_BYTES = 268_435_456
# Checkpoints copy pages on their own thread (CHECKPOINT_PERIOD_S), so the writer's own autocheckpoint,
# which callers wait for, finds little left to copy; it still runs, because only a checkpoint between
# two of the writer's commits catches up with the WAL and lets it restart from its beginning.
CHECKPOINT_PERIOD_S = 0.2
_WRITER_AUTOCHECKPOINT_PAGES = 4_000
_WAL_SIZE_LIMIT_BYTES = 67_108_864
# The WAL file is truncated to zero when it is fully checkpointed and this process wrote nothing for
# IDLE_TRUNCATE_S, or when the most it held over the last PEAK_WINDOW_S is an eighth of its size or less
# (writes are few again after a burst) and it has grown to TRUNCATE_MIN_BYTES: a burst's WAL (up to _WAL_SIZE_LIMIT_BYTES otherwise
# kept for reuse) is not held on disk once the burst is over. At most once per IDLE_TRUNCATE_S.
IDLE_TRUNCATE_S = 1.0
TRUNCATE_MIN_BYTES = 1 << 20
PEAK_WINDOW_S = 5.0
_TRUNCATE_BUSY_MS = 100  # a busy reader or another process's writer: try again at the next idle period
# Free pages (left by deleted events, bodies, outcomes) are reused by new rows; only a surplus beyond
# VACUUM_KEEP_FRACTION of the file (and at least VACUUM_MIN_FREE_PAGES) is given back to the file system,
# at most VACUUM_STEP_PAGES per write (a short one), every VACUUM_PERIOD_S.
VACUUM_PERIOD_S = 1.0
VACUUM_MIN_FREE_PAGES = 1024
VACUUM_KEEP_FRACTION = 0.1
VACUUM_STEP_PAGES = 2048


def _connect(path: Path, *, synchronous: str, autocheckpoint: int = 1000, read_only: bool = False) -> sqlite3.Connection:
    if read_only:  # a tool beside running servers: it needs no write access and takes no write lock
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return conn
    conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
    conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
    conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT_BYTES}")
    return conn


class _Job:
    __slots__ = ("fn", "future", "loop", "durable")

    def __init__(self, fn: WriteFn, future: Any, loop: asyncio.AbstractEventLoop | None, durable: bool):
        self.fn = fn
        self.future = future
        self.loop = loop
        self.durable = durable


class Database:
    """One SQLite file: `await write(fn)` for group-committed writes, `read(fn)` for reads."""

    def __init__(self, path: Path, schema: list[str], *, read_only: bool = False):
        """`read_only`: reads only, on an existing file (no writer thread, no schema, no write lock)."""
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        # Run by the writer after each commit, before callers hear of it (e.g. to refresh a cached value).
        self.after_commit: list[Callable[[sqlite3.Connection], None]] = []
        self._closed = False
        if read_only:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(path, synchronous="FULL", autocheckpoint=_WRITER_AUTOCHECKPOINT_PAGES)
        self._durable = True  # the writer connection's current synchronous mode (FULL)
        self._last_commit_s = time.monotonic()
        self._next_truncate_s = 0.0
        self._peak, self._previous_peak, self._peak_started_s = 0, 0, time.monotonic()
        self._page_bytes = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        _incremental_vacuum_mode(self._conn)
        self._apply_schema(schema)
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True)
        self._thread.start()
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        conn = _connect(self.path, synchronous="FULL")
        conn.execute(f"PRAGMA busy_timeout={_TRUNCATE_BUSY_MS}")  # PASSIVE never waits; TRUNCATE briefly
        next_vacuum_s = time.monotonic() + VACUUM_PERIOD_S
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_PERIOD_S):
                try:
                    self._checkpoint(conn)
                    if time.monotonic() >= next_vacuum_s:
                        next_vacuum_s = time.monotonic() + VACUUM_PERIOD_S
                        self._maybe_vacuum(conn)
                except sqlite3.Error:  # busy or locked: the next period tries again
                    log.debug("checkpoint skipped", exc_info=True)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """PASSIVE every period; TRUNCATE (the WAL file back to zero bytes) at most once per
        IDLE_TRUNCATE_S when everything is checkpointed and the WAL lately held little of what its file
        spans: after a burst, or while writes are few (idle, or only maintenance), not under load."""
        busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        now_s = time.monotonic()
        recent_frames = self._peak_frames(now_s, log_frames)
        if busy or log_frames != copied or now_s < self._next_truncate_s:
            return
        try:
            wal_bytes = os.path.getsize(f"{self.path}-wal")
        except OSError:
            return
        if wal_bytes == 0:
            return
        idle = now_s - self._last_commit_s >= IDLE_TRUNCATE_S
        if idle or (wal_bytes >= TRUNCATE_MIN_BYTES and recent_frames * (self._page_bytes + 24) * 8 <= wal_bytes):
            self._next_truncate_s = now_s + IDLE_TRUNCATE_S
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def _peak_frames(self, now_s: float, log_frames: int) -> int:
        """The most frames the WAL held over the last PEAK_WINDOW_S or so (two buckets): under steady load
        the WAL fills its file again and again, and truncating it would only make it grow back."""
        if now_s - self._peak_started_s >= PEAK_WINDOW_S:
            self._previous_peak, self._peak, self._peak_started_s = self._peak, 0, now_s
        self._peak = max(self._peak, log_frames)
        return max(self._peak, self._previous_peak)

    def _maybe_vacuum(self, conn: sqlite3.Connection) -> None:
        """Hand the writer an incremental vacuum of the free pages beyond what new rows will reuse."""
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        surplus = free - max(VACUUM_MIN_FREE_PAGES, int(pages * VACUUM_KEEP_FRACTION))
        if surplus <= 0:
            return
        step = min(surplus, VACUUM_STEP_PAGES)
        self._jobs.put([_Job(lambda c: _vacuum_pages(c, step), Future(), None, durable=False)])

    def _apply_schema(self, schema: list[str]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in schema:
                self._conn.execute(statement)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    # ---- writes -------------------------------------------------------------------------------
    async def write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run fn in the writer's next transaction; return once it is committed.

        `durable` (the default): the commit is fsync'd before this returns, as a 202 needs. Writes whose
        loss on a power cut only repeats work (leases, retries, outcomes: at-least-once redelivers
        them) pass durable=False; a batch of only such writes commits without an fsync, and the next
        durable commit's fsync covers them too. A process crash loses neither kind.
        """
        if self.read_only:
            raise sqlite3.OperationalError("this store was opened read-only")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            # First write of this loop iteration: hand the whole iteration's writes over in one go.
            pending = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        pending.append(_Job(fn, future, loop, durable))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._pending.pop(loop, None)
        if jobs:
            self._jobs.put(jobs)

    def write_sync(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Blocking variant for threads and command-line tools."""
        if self.read_only:
            raise sqlite3.OperationalError("this store was opened read-only")
        future: Future[T] = Future()
        self._jobs.put([_Job(fn, future, None, durable)])
        return future.result()

    def _run(self) -> None:
        while True:
            jobs = self._jobs.get()
            if jobs is None:
                return
            batch = list(jobs)
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._commit(batch)
                    return
                batch.extend(more)
            self._commit(batch)

    def _commit(self, batch: list[_Job]) -> None:
        """Run a batch in one transaction. Optimistic: no savepoints; if a job raises, roll back and
        run the batch again with a savepoint per job, so the failure stays with its caller alone."""
        try:
            results = self._run_batch(batch, isolate=False)
        except _JobFailed:
            try:
                results = self._run_batch(batch, isolate=True)
            except BaseException as exc:
                log.exception("sqlite commit failed")
                results = [(job, None, exc) for job in batch]
        except BaseException as exc:
            log.exception("sqlite commit failed")
            results = [(job, None, exc) for job in batch]
        _resolve_all(results)

    def _run_batch(self, batch: list[_Job], *, isolate: bool) -> list[tuple[_Job, Any, BaseException | None]]:
        conn = self._conn
        results: list[tuple[_Job, Any, BaseException | None]] = []
        durable = any(job.durable for job in batch)
        if durable != self._durable:
            conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
            self._durable = durable
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in batch:
                if not isolate:
                    try:
                        results.append((job, job.fn(conn), None))
                    except BaseException as exc:
                        raise _JobFailed from exc
                    continue
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((job, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((job, value, None))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._last_commit_s = time.monotonic()
        self._after_commit(conn)
        return results

    def _after_commit(self, conn: sqlite3.Connection) -> None:
        """Run the hooks; the batch is committed whatever they do, so a failing hook is logged, never
        reported to the callers (who would otherwise act as if their committed writes had not happened)."""
        for hook in self.after_commit:
            try:
                hook(conn)
            except Exception:
                log.exception("after-commit hook %r failed", hook)

    # ---- reads --------------------------------------------------------------------------------
    def reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, synchronous="NORMAL", read_only=self.read_only)
            self._local.conn = conn
        return conn

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn on this thread's read connection (a consistent snapshot)."""
        conn = self.reader()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def read_value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """First column of the first row of one statement (autocommit: no BEGIN/COMMIT round trips)."""
        row = self.reader().execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.read_only:
            return
        self._jobs.put(None)
        self._stop_checkpoints.set()
        self._thread.join(timeout=10)
        self._checkpointer.join(timeout=10)
        self._conn.close()


def _incremental_vacuum_mode(conn: sqlite3.Connection) -> None:
    """auto_vacuum=INCREMENTAL, so free pages can be given back (`_vacuum_pages`). Once the file has a
    header (journal_mode=WAL writes one) only a VACUUM changes the mode: instant on a new file, a one-time
    rewrite of a database from before this setting."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
        return
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        log.warning("converting %s to incremental vacuum (a one-time VACUUM)",
                    conn.execute("PRAGMA database_list").fetchone()[2])
    try:
        conn.execute("VACUUM")
    except sqlite3.Error as err:  # e.g. no room for the copy: the file keeps its mode, the next start retries
        log.warning("VACUUM failed, free pages stay in the file until it succeeds: %s", err)


def _vacuum_pages(conn: sqlite3.Connection, pages: int) -> None:
    """Give `pages` free pages back. Python's sqlite3 steps a statement that returns no row only once,
    and one step of `incremental_vacuum` frees one page: hence one statement per page."""
    for _ in range(pages):
        conn.execute("PRAGMA incremental_vacuum(1)")


class _JobFailed(Exception):
    """A job raised during an optimistic batch: retry the batch with isolation."""


def _resolve_all(results: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """Hand results back: one wake-up per event loop for the whole batch, not one per job."""
    per_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, BaseException | None]]] = {}
    for job, value, error in results:
        if job.loop is None:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)
        else:
            per_loop.setdefault(job.loop, []).append((job.future, value, error))
    for loop, items in per_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_set_all, items)


def _set_all(items: list[tuple[Any, Any, BaseException | None]]) -> None:
    for future, value, error in items:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
