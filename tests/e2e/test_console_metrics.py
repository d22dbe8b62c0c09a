"""Per-function gauges at /metrics (queue depth, oldest event age, in flight), read from the store at scrape
time, beside the counters; and `serve --no-console` serves no console."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.async_support import create_recorder, event_invoke
from tests.support.server import LambdaliteProcess, wait_until


def gauge(endpoint: str, name: str, function: str) -> float | None:
    text = urllib.request.urlopen(f"{endpoint}/metrics", timeout=10).read().decode()
    match = re.search(rf'^{name}{{function_name="{function}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


def test_queue_gauges_follow_the_queue(tmp_path: Path) -> None:
    server = LambdaliteProcess(tmp_path / "data", args=["--no-dispatch", "--no-console"]).start()
    try:
        client = server.client("lambda")
        create_recorder(client, "waiting", tmp_path / "w.jsonl")
        assert gauge(server.endpoint, "lambdalite_AsyncQueueDepth", "waiting") == 0
        for _ in range(3):
            event_invoke(client, "waiting", {})
        assert gauge(server.endpoint, "lambdalite_AsyncQueueDepth", "waiting") == 3
        assert gauge(server.endpoint, "lambdalite_AsyncEventsInFlight", "waiting") == 0
        wait_until(lambda: (gauge(server.endpoint, "lambdalite_AsyncOldestEventAge_seconds", "waiting") or 0) > 0,
                   timeout_s=30, what="the oldest event to age")
        try:
            urllib.request.urlopen(f"{server.endpoint}/console", timeout=10)
            status = 200
        except urllib.error.HTTPError as err:
            status = err.code
        assert status != 200  # --no-console: the path falls through to the Lambda API's 404
    finally:
        server.kill()
