"""The dispatcher when things go wrong inside lambdalite, and when its worker is stopped."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

from lambdalite.model.event import EVENT_KIND, QueuedEvent, queue_name
from tests.e2e.async_support import attempts_of, create_recorder, event_invoke
from tests.support.server import LambdaliteProcess, wait_until

MAX_AGE_MS = 21_600_000


def _queued(data_dir: Path, request_id: str) -> bool:
    conn = sqlite3.connect(f"file:{data_dir / 'lambdalite.db'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT 1 FROM messages WHERE id = ?", (request_id,)).fetchone() is not None
    finally:
        conn.close()


def test_an_event_lambdalite_cannot_resolve_backs_off_and_ends(tmp_path: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    """An event whose stored qualifier no longer parses (state written by hand: the API refuses such
    input) is a failure of lambdalite's, not the function's: it backs off like a system error and ends
    at its maximum age, instead of coming back every lease period for ever."""
    server = start_server(env={"LAMBDALITE_LEASE_SECONDS": "2"}, args=["--no-dispatch"])
    create_recorder(server.client("lambda"), "fine", tmp_path / "rec.jsonl")
    now_ms = int(time.time() * 1000)
    event = QueuedEvent(request_id="broken-event", function="fine", qualifier="not a qualifier!",
                        accepted_ms=now_ms - MAX_AGE_MS + 4000)
    conn = sqlite3.connect(server.data_dir / "lambdalite.db", timeout=30)
    with conn:
        conn.execute("INSERT INTO messages(kind, queue, id, body, attrs, sent_ms, visible_ms) VALUES (?,?,?,?,?,?,?)",
                     (EVENT_KIND, queue_name("fine"), event.request_id, b"{}", event.to_attrs(), now_ms, now_ms))
    conn.close()
    worker = LambdaliteProcess(server.data_dir, role="worker", env={"LAMBDALITE_LEASE_SECONDS": "2"}).start()
    try:
        wait_until(lambda: not _queued(server.data_dir, "broken-event"), timeout_s=30, what="the event to end")
        assert "attempt failed inside lambdalite" in worker.log_text()
    finally:
        worker.kill()


def test_a_stopped_worker_hands_its_events_back_at_once(tmp_path: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM makes a worker's leased events due again now: with a 60 s lease, another worker starts
    the interrupted event within seconds, not after the lease."""
    env = {"LAMBDALITE_LEASE_SECONDS": "60"}
    api = start_server(env=env, args=["--no-dispatch"])
    record = tmp_path / "rec.jsonl"
    lam = api.client("lambda")
    create_recorder(lam, "long", record, timeout_s=120)
    request_id = event_invoke(lam, "long", {"sleep": 100})
    first = LambdaliteProcess(api.data_dir, role="worker", env=env).start()
    wait_until(lambda: attempts_of(record, request_id), timeout_s=30, what="the first attempt")
    assert first.proc is not None
    os.killpg(first.proc.pid, signal.SIGTERM)
    first.proc.wait(timeout=30)
    second = LambdaliteProcess(api.data_dir, role="worker", env=env).start()
    try:
        wait_until(lambda: len(attempts_of(record, request_id)) >= 2, timeout_s=20,
                   what="the interrupted event to run again well before its 60 s lease ends")
    finally:
        second.kill()


def test_events_accepted_in_the_dispatching_process_respect_its_concurrency(tmp_path: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    """Accepted events go straight to this process's dispatcher while it has room, never beyond
    LAMBDALITE_DISPATCH_CONCURRENCY at once; the rest wait in the queue, and every one runs."""
    from concurrent.futures import ThreadPoolExecutor

    server = start_server(env={"LAMBDALITE_DISPATCH_CONCURRENCY": "3"})
    record = tmp_path / "rec.jsonl"
    lam = server.client("lambda")
    create_recorder(lam, "bounded", record)
    sleep_s = 0.6
    # A sync warm-up teaches the pool the function is slow: environments then scale out at once, so
    # only the dispatcher's own bound can keep the events from all running together.
    lam.invoke(FunctionName="bounded", Payload=b'{"sleep": 0.6}')
    with ThreadPoolExecutor(24) as pool:
        ids = list(pool.map(lambda i: event_invoke(server.client("lambda"), "bounded", {"sleep": sleep_s, "i": i}),
                            range(24)))
    wait_until(lambda: all(attempts_of(record, rid) for rid in ids), timeout_s=60, what="every event ran")
    starts = sorted(a["t"] for rid in ids for a in attempts_of(record, rid))
    most = max(sum(1 for other in starts if start <= other < start + sleep_s - 0.05) for start in starts)
    assert most <= 3, starts
