"""The lambdalite workloads on PostgreSQL (the `lambdalite+pg` column): a private PostgreSQL with fsync on
(started here like the tests' own, tests/support/postgres.py), a fresh database per measurement.

Accept: one `serve --no-dispatch` (durable 202s: each COMMIT is on disk). End to end and latency: one API
node (`serve --no-dispatch`) and one `lambdalite worker`, as a deployment on many machines runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs
from bench.config import Sizes
from bench.lambdalite_side import REPO, LambdaliteRun, Server, _guarded

# The targets for lambdalite on PostgreSQL on the 2-core machine (the table's targets are SQLite's).
TARGETS = {"accept_per_s": 5_000, "e2e_per_s": 2_000, "latency_p99_ms": 10}


class PostgresRun(LambdaliteRun):
    def __init__(self, sizes: Sizes, work_dir: Path, fresh_database: Callable[[], str]):
        super().__init__(sizes, work_dir)
        self.fresh_database = fresh_database

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        result.update(_guarded(self.accept_pg, "accept_error"))
        result.update(_guarded(self.two_nodes, "main_error"))
        return result

    def accept_pg(self) -> dict[str, Any]:
        self.server_env = {"LAMBDALITE_STORE": self.fresh_database()}
        return self.accept()

    def two_nodes(self) -> dict[str, Any]:
        """End to end and latency with one API node and one worker on one database."""
        server = Server(self.work_dir, dispatch=False, env={"LAMBDALITE_STORE": self.fresh_database()}).start()
        worker_dir = self.work_dir / f"pg-worker-{server.port}"
        worker = procs.spawn([sys.executable, "-m", "lambdalite", "worker", "--data-dir", str(worker_dir)],
                             env=server.env, log_path=self.work_dir / f"lambdalite-pg-worker-{server.port}.log",
                             cwd=REPO)
        result: dict[str, Any] = {}
        try:
            server.create_function("bench-pg", self.sink)
            self.warm_up(server, "bench-pg")
            with procs.CpuMeter({"worker": worker.pid}, {"server": server.pid}) as cpu:
                result["e2e"] = _guarded(lambda: self.end_to_end(server, "bench-pg"))
            # As the split figure: worker (with its functions) and API node; PostgreSQL's own CPU is not in it.
            result["e2e"]["cpu_s"] = {**cpu.used_s, "total": round(sum(cpu.used_s.values()), 2)}
            result["latency"] = _guarded(lambda: self.latency(server, "bench-pg"))
            return result
        finally:
            procs.stop(worker, grace_s=5.0)
            server.stop()


def run_lambdalite_postgres(sizes: Sizes, work_dir: Path) -> dict[str, Any]:
    try:
        from tests.support.postgres import PrivateServer
    except ImportError as exc:  # the table shows why the column is empty
        return {"error": f"PostgreSQL tests support unavailable: {exc}"}
    try:
        server = PrivateServer(fsync=True).start()
    except Exception as exc:  # noqa: BLE001 - PostgreSQL not installed: the other columns still print
        return {"error": f"no private PostgreSQL: {exc}"}
    try:
        return PostgresRun(sizes, work_dir, server.fresh_database).run()
    finally:
        server.destroy()


def target_notes(result: dict[str, Any]) -> list[str]:
    """How the PostgreSQL figures compare with the issue's targets for them."""
    figures = {"accept_per_s": (result.get("accept") or {}).get("accept_per_s"),
               "e2e_per_s": (result.get("e2e") or {}).get("e2e_per_s"),
               "latency_p99_ms": (result.get("latency") or {}).get("latency_p99_ms")}
    out = []
    for key, target in TARGETS.items():
        value = figures[key]
        if value is None:
            continue
        met = value <= target if key.endswith("_ms") else value >= target
        out.append(f"lambdalite+pg {key} {value} (target {'≤' if key.endswith('_ms') else '≥'} {target}: "
                   f"{'met' if met else 'missed'})")
    return out
