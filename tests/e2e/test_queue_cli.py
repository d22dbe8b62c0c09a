"""`lambdalite queue`: per function, queued / in flight / delayed for retry / oldest age."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.async_support import attempts_of, create_recorder, event_invoke, records
from tests.support.server import LambdaliteProcess, wait_until

# A long retry delay keeps a failed event "delayed" while the test looks at it.
ENV = {"LAMBDA_RETRY_BASE_DELAY": "600", "LAMBDALITE_LEASE_SECONDS": "2"}


def queue_table(data_dir: Path) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-m", "lambdalite", "queue", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0].split() == ["FUNCTION", "QUEUED", "IN_FLIGHT", "DELAYED", "OLDEST_AGE_S"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:] if not line.startswith("(")}


def test_queue_shows_queued_in_flight_and_delayed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api = LambdaliteProcess(data_dir, env=ENV, args=["--no-dispatch"]).start()
    worker: LambdaliteProcess | None = None
    try:
        client = api.client("lambda")
        for name in ("waiting", "running", "failing"):
            create_recorder(client, name, tmp_path / f"{name}.jsonl")
        for _ in range(3):
            event_invoke(client, "waiting", {})
        assert queue_table(data_dir)["waiting"][:3] == ["3", "0", "0"]
        assert float(queue_table(data_dir)["waiting"][3]) >= 0

        client.put_function_concurrency(FunctionName="waiting", ReservedConcurrentExecutions=0)
        running = event_invoke(client, "running", {"sleep": 30})
        failing = event_invoke(client, "failing", {"fail": True})
        worker = LambdaliteProcess(data_dir, role="worker", env=ENV).start()
        wait_until(lambda: attempts_of(tmp_path / "running.jsonl", running), timeout_s=60)
        wait_until(lambda: attempts_of(tmp_path / "failing.jsonl", failing), timeout_s=60)

        def settled() -> dict[str, list[str]] | None:
            table = queue_table(data_dir)
            ok = table.get("running", [])[:3] == ["0", "1", "0"] and table.get("failing", [])[:3] == ["0", "0", "1"]
            return table if ok and "waiting" not in table else None

        wait_until(settled, timeout_s=60, what="running in flight, failing delayed, waiting ended")
        assert records(tmp_path / "waiting.jsonl") == []
    finally:
        api.kill()
        if worker is not None:
            worker.kill()


def test_queue_without_data(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lambdalite", "queue", "--data-dir", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no lambdalite data" in result.stdout
