"""Accepted events survive SIGKILL: of the server right after the 202s, of the server mid-invocation,
and of a separate `lambdalite worker` (API served by `serve --no-dispatch`) mid-invocation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.async_support import (
    attempts_of,
    create_recorder,
    event_invoke,
    recorder_zip,
    records,
    wait_outcome,
)
from tests.support.server import LambdaliteProcess, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

ENV = {"LAMBDA_RETRY_BASE_DELAY": "1", "LAMBDALITE_LEASE_SECONDS": "2"}
EVENTS = 300


def test_every_accepted_event_runs_after_sigkill_right_after_the_last_202(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = LambdaliteProcess(data_dir, env=ENV).start()
    record_path = tmp_path / "records.jsonl"
    try:
        create_recorder(server.client("lambda"), "durable", record_path)
        local = threading.local()

        def send(i: int) -> str:
            if not hasattr(local, "client"):
                local.client = server.client("lambda", max_pool_connections=2)
            return event_invoke(local.client, "durable", {"i": i})

        with ThreadPoolExecutor(max_workers=16) as pool:
            accepted = set(pool.map(send, range(EVENTS)))
        server.kill()
        assert len(accepted) == EVENTS
        restarted = LambdaliteProcess(data_dir, env=ENV).start()
        try:
            wait_until(lambda: accepted <= {r["id"] for r in records(record_path)}, timeout_s=120,
                       what="every accepted event to run")
        finally:
            restarted.kill()
    finally:
        server.kill()


def _slow_event_killed_mid_run(kill: Any, record_path: Path, client: Any) -> str:
    """Send a slow event, wait until it runs, kill, return its request id."""
    request_id = event_invoke(client, "slow", {"sleep": 3})
    wait_until(lambda: attempts_of(record_path, request_id), timeout_s=60, what="the first attempt")
    kill()
    return request_id


def test_sigkill_during_an_invocation_runs_the_event_again_with_the_same_request_id(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    record_path = tmp_path / "records.jsonl"
    server = LambdaliteProcess(data_dir, env=ENV).start()
    restarted: LambdaliteProcess | None = None
    try:
        create_recorder(server.client("lambda"), "slow", record_path)
        request_id = _slow_event_killed_mid_run(server.kill, record_path, server.client("lambda"))
        restarted = LambdaliteProcess(data_dir, env=ENV).start()
        result = wait_outcome(data_dir, request_id, timeout_s=60)
        assert result["condition"] == "Success"
        assert len(attempts_of(record_path, request_id)) >= 2
    finally:
        server.kill()
        if restarted is not None:
            restarted.kill()


def test_worker_killed_mid_invocation_and_the_next_worker_runs_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    record_path = tmp_path / "records.jsonl"
    api = LambdaliteProcess(data_dir, env=ENV, args=["--no-dispatch"]).start()
    workers = [LambdaliteProcess(data_dir, role="worker", env=ENV).start()]
    try:
        client = api.client("lambda")
        create_recorder(client, "slow", record_path)
        request_id = _slow_event_killed_mid_run(workers[0].kill, record_path, client)
        workers.append(LambdaliteProcess(data_dir, role="worker", env=ENV).start())
        result = wait_outcome(data_dir, request_id, timeout_s=60)
        assert result["condition"] == "Success"
        tries = attempts_of(record_path, request_id)
        assert len(tries) >= 2 and {t["id"] for t in tries} == {request_id}
    finally:
        api.kill()
        for worker in workers:
            worker.kill()


def test_events_queued_before_update_function_code_run_the_new_code(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    record_path = tmp_path / "records.jsonl"
    api = LambdaliteProcess(data_dir, env=ENV, args=["--no-dispatch"]).start()
    worker: LambdaliteProcess | None = None
    try:
        client = api.client("lambda")
        create_recorder(client, "evolving", record_path, tag="v1")
        accepted = {event_invoke(client, "evolving", {"n": n}) for n in range(3)}
        client.update_function_code(FunctionName="evolving", ZipFile=recorder_zip("v2"))
        client.get_waiter("function_updated").wait(FunctionName="evolving",
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        assert records(record_path) == []
        worker = LambdaliteProcess(data_dir, role="worker", env=ENV).start()
        seen = wait_until(lambda: len(records(record_path)) >= 3 and records(record_path), timeout_s=60)
        assert {r["id"] for r in seen} == accepted
        assert {r["tag"] for r in seen} == {"v2"}
    finally:
        api.kill()
        if worker is not None:
            worker.kill()
