"""Event source mappings across crashes and restarts: messages in flight are never lost (at least once).

Queues here have a 3 s visibility timeout (consumers a 3 s timeout), so a batch whose poller died comes
back quickly; the consumer sleeps 2 s on the first message so the batch is mid-run when we strike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.esm_support import (
    batches,
    body,
    counts,
    create_consumer,
    create_queue,
    delivered_bodies,
    queue_arn,
    send_many,
    wait_bodies,
    wait_enabled,
)
from tests.support.server import LambdaliteProcess, wait_until


def _setup(api: LambdaliteProcess, tmp_path: Path, name: str) -> tuple[Any, str, Path, list[str]]:
    lam, sqs = api.client("lambda"), api.client("sqs")
    url = create_queue(sqs, name, VisibilityTimeout="3")
    path = tmp_path / f"{name}.jsonl"
    create_consumer(lam, name, path, timeout_s=3)
    created = lam.create_event_source_mapping(EventSourceArn=queue_arn(name), FunctionName=name, BatchSize=10)
    wait_enabled(lam, created["UUID"])
    bodies = [body({"sleep": 2, "n": 0}), *[f"m{i}" for i in range(1, 8)]]
    send_many(sqs, url, bodies)
    return sqs, url, path, bodies


def test_server_restart_with_a_batch_in_flight_loses_nothing(tmp_path: Path) -> None:
    api = LambdaliteProcess(tmp_path / "data").start()
    try:
        sqs, url, path, bodies = _setup(api, tmp_path, "restart")
        wait_until(lambda: batches(path), what="the first batch running")
        api.restart()
        sqs = api.client("sqs")
        wait_bodies(path, set(bodies), timeout_s=60)
        wait_until(lambda: counts(sqs, url) == (0, 0), timeout_s=60, what="every message deleted")
    finally:
        api.kill()


def test_kill_9_of_the_worker_mid_batch_runs_the_batch_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api = LambdaliteProcess(data_dir, args=["--no-dispatch"]).start()
    worker = LambdaliteProcess(data_dir, role="worker").start()
    try:
        sqs, url, path, bodies = _setup(api, tmp_path, "killed")
        wait_until(lambda: batches(path), timeout_s=30, what="the batch running in the worker")
        first = batches(path)[0]["batch"]
        worker.kill()  # SIGKILL: the worker and its function's process, mid-batch
        assert counts(sqs, url)[1] >= len(first)  # the batch's messages are still hidden, not lost
        worker = LambdaliteProcess(data_dir, role="worker").start()
        wait_bodies(path, set(bodies), timeout_s=60)
        wait_until(lambda: counts(sqs, url) == (0, 0), timeout_s=60, what="every message deleted")
        again = [b for b in batches(path)[1:] if set(b["batch"]) & set(first)]
        assert again, "the killed batch's messages ran again"
        assert again[0]["records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
        assert set(delivered_bodies(path)) == set(bodies)
    finally:
        api.kill()
        worker.kill()


def test_serve_without_dispatch_does_not_poll(tmp_path: Path) -> None:
    api = LambdaliteProcess(tmp_path / "data", args=["--no-dispatch"]).start()
    try:
        lam, sqs = api.client("lambda"), api.client("sqs")
        url = create_queue(sqs, "idle")
        path = tmp_path / "idle.jsonl"
        create_consumer(lam, "idle", path)
        lam.create_event_source_mapping(EventSourceArn=queue_arn("idle"), FunctionName="idle")
        sqs.send_message(QueueUrl=url, MessageBody="waits")
        # the API settles the state alone, but only a dispatcher delivers: the message stays visible
        wait_enabled(lam, lam.list_event_source_mappings()["EventSourceMappings"][0]["UUID"])
        assert counts(sqs, url) == (1, 0) and not batches(path)
    finally:
        api.kill()
