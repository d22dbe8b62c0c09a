"""Two `lambdalite worker`s on one data folder (API: `serve --no-dispatch`): invocations longer than the
lease keep their event lease and their concurrency slot, so reserved concurrency holds across processes
and no event runs twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.async_support import create_recorder, event_invoke, records, wait_outcome
from tests.support.server import LambdaliteProcess

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

# Leases of 1 s, invocations of 3 s: every slot and lease must be renewed a few times.
ENV = {"LAMBDA_RETRY_BASE_DELAY": "1", "LAMBDALITE_LEASE_SECONDS": "1", "LAMBDALITE_THROTTLE_MAX_DELAY": "1"}
SLEEP_S = 3


def test_reserved_concurrency_one_holds_across_two_workers_for_invocations_longer_than_the_lease(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    record_path = tmp_path / "records.jsonl"
    api = LambdaliteProcess(data_dir, env=ENV, args=["--no-dispatch"]).start()
    workers = [LambdaliteProcess(data_dir, role="worker", env=ENV).start() for _ in range(2)]
    try:
        client = api.client("lambda")
        create_recorder(client, "slow", record_path, timeout_s=30)
        client.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
        request_ids = [event_invoke(client, "slow", {"sleep": SLEEP_S, "i": i}) for i in range(3)]
        for request_id in request_ids:
            result = wait_outcome(data_dir, request_id, timeout_s=120)
            assert (result["condition"], result["approximate_invoke_count"]) == ("Success", 1)
        starts = sorted(r["t"] for r in records(record_path))
        assert len(starts) == 3  # each ran once: no lease lapsed mid-run
        gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
        assert min(gaps) >= SLEEP_S - 0.5, gaps  # one at a time: no slot lapsed mid-run
    finally:
        api.kill()
        for worker in workers:
            worker.kill()
