"""Event source mappings on PostgreSQL: an API-only node and a worker on their own data folders share the
database; the worker's pollers deliver what the API node's clients queue, and a disable made on the API
node stops them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.esm_support import (
    counts,
    create_consumer,
    create_queue,
    delivered_bodies,
    queue_arn,
    send_many,
    wait_bodies,
    wait_enabled,
)
from tests.support import postgres
from tests.support.server import LambdaliteProcess, free_port, wait_until

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")


@pytest.fixture
def database() -> Iterator[str]:
    with postgres.database() as url:
        yield url


def test_a_worker_node_polls_for_the_api_node(tmp_path: Path, database: str) -> None:
    api = LambdaliteProcess(tmp_path / "api", store=database, args=["--no-dispatch"]).start()
    worker = LambdaliteProcess(tmp_path / "worker", role="worker", port=free_port(), store=database,
                               env={"LAMBDALITE_ENDPOINT_URL": api.endpoint}).start()
    try:
        lam, sqs = api.client("lambda"), api.client("sqs")
        url = create_queue(sqs, "pg-esm")
        path = tmp_path / "pg-esm.jsonl"
        create_consumer(lam, "pg-esm", path)
        created = lam.create_event_source_mapping(EventSourceArn=queue_arn("pg-esm"), FunctionName="pg-esm",
                                                  BatchSize=5)
        wait_enabled(lam, created["UUID"])
        bodies = [f"m{i}" for i in range(12)]
        send_many(sqs, url, bodies)
        wait_bodies(path, set(bodies), timeout_s=60)
        wait_until(lambda: counts(sqs, url) == (0, 0), timeout_s=30, what="every message deleted")

        lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)
        wait_enabled(lam, created["UUID"], "Disabled")
        sqs.send_message(QueueUrl=url, MessageBody="while-off")
        time.sleep(1.5)  # a stretch with the mapping off: nothing may be delivered (not a synchronisation)
        assert "while-off" not in delivered_bodies(path)
        lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)
        wait_bodies(path, {"while-off"}, timeout_s=30)
    finally:
        worker.kill()
        api.kill()
