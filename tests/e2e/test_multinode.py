"""Many nodes on one PostgreSQL: two API nodes (`serve --no-dispatch`) and two `worker`s, each in its own
network namespace as a separate host (tests/support/netns.py; plain processes when namespaces cannot be
made), all on one database that PostgreSQL serves on the bridge address.

Checked: events sent to both API nodes each run exactly once; reserved concurrency 1 holds across the
workers (the function records when each run starts and ends, the test looks for overlaps); a worker killed
with SIGKILL mid-invocation loses its lease and another worker runs that event again, same request id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.async_support import ROLE, RUNTIME, event_invoke, records, wait_outcome
from tests.support import netns, postgres
from tests.support.server import LambdaliteProcess, free_port, shared_file, wait_until
from tests.support.zips import python_zip

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")

LEASE_S = 2
ENV = {"LAMBDA_RETRY_BASE_DELAY": "1", "LAMBDALITE_LEASE_SECONDS": str(LEASE_S),
       "LAMBDALITE_THROTTLE_MAX_DELAY": "1",
       "LAMBDALITE_CREDENTIALS": "test:test"}  # the boto clients' keys: nodes serve on non-loopback addresses

# One line when a run starts and one when it ends, with the network namespace it ran in (which host).
TIMED = '''
import json, os, time

def _write(record):
    with open(os.environ["RECORD_PATH"], "a") as f:
        f.write(json.dumps(record) + "\\n")

def handler(event, context):
    try:
        host = os.readlink("/proc/self/ns/net")
    except OSError:
        host = "?"
    _write({"id": context.aws_request_id, "phase": "start", "t": time.time(), "host": host})
    time.sleep(event.get("sleep", 0))
    _write({"id": context.aws_request_id, "phase": "end", "t": time.time(), "host": host})
    return {"ok": True}
'''


class Cluster:
    """The database, the hosts, and the nodes started on them (all stopped at the end)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        try:
            self.hosts: netns.Hosts | None = netns.Hosts.create()
            self.why_not_netns = ""
        except netns.Unavailable as exc:
            self.hosts, self.why_not_netns = None, str(exc)
        self.pg = netns.BridgedPostgres(self.hosts).start()
        self.url = self.pg.fresh_database()
        self.nodes: list[LambdaliteProcess] = []

    def node(self, role: str, **kwargs: Any) -> LambdaliteProcess:
        n = len(self.nodes)
        if self.hosts is not None:
            address = self.hosts.add()
            name: str | None = self.hosts.names[-1]
        else:
            address, name = "127.0.0.1", None
        args = ["--no-dispatch"] if role == "serve" else []
        node = netns.node(self.tmp_path / f"node{n}", netns=name, address=address, role=role, port=free_port(),
                          env=ENV, args=args, store=self.url, **kwargs)
        self.nodes.append(node)
        return node.start()

    def close(self) -> None:
        for node in self.nodes:
            node.kill()
        self.pg.destroy()
        if self.hosts is not None:
            self.hosts.destroy()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    try:
        yield made
    finally:
        made.close()


def create_timed(client: Any, name: str, record_path: Path) -> None:
    client.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="handler.handler",
                           Code={"ZipFile": python_zip(TIMED)}, Timeout=30,
                           Environment={"Variables": {"RECORD_PATH": shared_file(record_path)}})


def runs(record_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Per request id, its records in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records(record_path):
        out.setdefault(record["id"], []).append(record)
    return out


def intervals(record_path: Path) -> list[tuple[float, float, str]]:
    """(start, end, host) of every finished run, by start time."""
    spans = []
    for attempts in runs(record_path).values():
        starts = [r for r in attempts if r["phase"] == "start"]
        ends = [r for r in attempts if r["phase"] == "end"]
        spans += [(s["t"], e["t"], s["host"]) for s, e in zip(starts, ends, strict=False)]
    return sorted(spans)


def test_events_sent_to_both_api_nodes_each_run_exactly_once_across_two_workers(cluster: Cluster) -> None:
    apis = [cluster.node("serve"), cluster.node("serve")]
    workers = [cluster.node("worker"), cluster.node("worker")]
    record_path = cluster.tmp_path / "records.jsonl"
    clients = [api.client("lambda") for api in apis]
    create_timed(clients[0], "fan", record_path)
    request_ids = [event_invoke(clients[i % 2], "fan", {"sleep": 0.05, "i": i}) for i in range(60)]
    for request_id in request_ids:
        result = wait_outcome(cluster.tmp_path / "reader", request_id, timeout_s=120, store=cluster.url)
        assert result["condition"] == "Success"
    ran = runs(record_path)
    assert sorted(ran) == sorted(request_ids)  # nothing else ran
    twice = {rid: len(r) for rid, r in ran.items() if len(r) != 2}
    assert not twice, f"events that did not run exactly once (start+end lines): {twice}"
    hosts = {r["host"] for rs in ran.values() for r in rs}
    print(f"netns: {cluster.hosts is not None} {cluster.why_not_netns}; ran on {len(hosts)} host(s); "
          f"workers {[w.host for w in workers]}")


def test_reserved_concurrency_one_is_never_exceeded_across_two_workers(cluster: Cluster) -> None:
    apis = [cluster.node("serve"), cluster.node("serve")]
    cluster.node("worker")
    cluster.node("worker")
    record_path = cluster.tmp_path / "records.jsonl"
    clients = [api.client("lambda") for api in apis]
    create_timed(clients[0], "one", record_path)
    clients[1].put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=1)
    request_ids = [event_invoke(clients[i % 2], "one", {"sleep": 0.3, "i": i}) for i in range(10)]
    for request_id in request_ids:
        assert wait_outcome(cluster.tmp_path / "reader", request_id, timeout_s=120,
                            store=cluster.url)["condition"] == "Success"
    spans = intervals(record_path)
    assert len(spans) == len(request_ids)
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    assert not overlaps, f"runs overlapped under reserved concurrency 1: {overlaps}"


def test_a_worker_killed_mid_invocation_has_its_event_run_again_by_the_other_with_the_same_request_id(
    cluster: Cluster,
) -> None:
    api = cluster.node("serve")
    first = cluster.node("worker")
    record_path = cluster.tmp_path / "records.jsonl"
    client = api.client("lambda")
    create_timed(client, "victim", record_path)
    request_id = event_invoke(client, "victim", {"sleep": 3 * LEASE_S})
    wait_until(lambda: runs(record_path).get(request_id), timeout_s=60, what="the first worker to start the run")
    second = cluster.node("worker")  # started after the first took the event: it can only get it by lease expiry
    first.kill()  # SIGKILL to the worker and its function
    killed_at = time.time()
    result = wait_outcome(cluster.tmp_path / "reader", request_id, timeout_s=120, store=cluster.url)
    assert result["condition"] == "Success"
    attempts = runs(record_path)[request_id]
    starts = [r for r in attempts if r["phase"] == "start"]
    assert len(starts) == 2, json.dumps(attempts)
    assert [r for r in attempts if r["phase"] == "end"][-1]["host"] == starts[1]["host"]
    assert starts[1]["t"] >= killed_at  # the rerun came after the kill (once the lease lapsed)
    assert second.proc is not None and second.proc.poll() is None
