"""Run the workloads against lambdalite: a real `lambdalite serve` on a free port and a fresh data folder.

Functions are created with boto3 (as a user would), then driven over plain HTTP keep-alive by `wrk` or
bench/loadgen.py: Invoke with `X-Amz-Invocation-Type: Event` for the async workloads, RequestResponse for
cold and warm start.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import measure, procs
from bench.config import Sizes, cores
from bench.profile import Profiler
from bench.sink import LAMBDA_HANDLER_SOURCE, Sink

REPO = Path(__file__).resolve().parents[1]
HEALTH_PATH = "/_lambdalite/health"
ROLE = "arn:aws:iam::000000000000:role/bench"


def sink_dir(work_dir: Path) -> Path:
    """The folder of the handlers' sink file, the one host folder sandboxed functions may write to."""
    folder = work_dir / "lambdalite-sink"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o777)
    return folder


def handler_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", LAMBDA_HANDLER_SOURCE)
    return buf.getvalue()


class Server:
    """One `lambdalite serve` subprocess with its own temp data folder."""

    def __init__(self, work_dir: Path, *, dispatch: bool = True, env: dict[str, str] | None = None):
        self.port = procs.free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-lambdalite-", dir=work_dir))
        self.log_path = work_dir / f"lambdalite-{self.port}.log"
        self.dispatch = dispatch
        # Sandboxed functions see the sink's folder only (sink_dir), read-write.
        self.env = {"LAMBDALITE_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO),
                    "LAMBDALITE_SANDBOX_SHARED_DIRS": str(sink_dir(work_dir)), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "lambdalite", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]
        if not self.dispatch:
            cmd.append("--no-dispatch")
        self.proc = procs.spawn(cmd, env=self.env, log_path=self.log_path, cwd=REPO)
        deadline = time.monotonic() + 30
        while not self.healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"lambdalite exited with {self.proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"lambdalite not healthy after 30 s; see {self.log_path}")
            time.sleep(0.05)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + HEALTH_PATH, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        procs.stop(self.proc, grace_s=5.0)
        self.proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def lambda_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("lambda", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench",
                            config=Config(retries={"max_attempts": 1}, read_timeout=60))

    def create_function(self, name: str, sink: Sink) -> None:
        client = self.lambda_client()
        client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
                               Code={"ZipFile": handler_zip()}, Timeout=30, MemorySize=128,
                               Environment={"Variables": {"BENCH_SINK": str(sink.path)}})
        deadline = time.monotonic() + 30
        while client.get_function_configuration(FunctionName=name).get("State", "Active") != "Active":
            if time.monotonic() > deadline:
                raise TimeoutError(f"function {name} not Active after 30 s")
            time.sleep(0.05)

    def loadgen(self, mode: str, function: str, *args: str, timeout_s: float) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "bench.loadgen", mode, "--port", str(self.port), "--function", function,
               *args]
        return procs.run_json(cmd, timeout_s=timeout_s, cwd=REPO)

    def rss_split(self) -> dict[str, Any]:
        """Server process RSS, and the function environments below it (count and mean each)."""
        assert self.proc is not None
        _, per_pid = procs.tree_rss([self.proc.pid])
        server_bytes = per_pid.pop(self.proc.pid, 0)
        envs = [pid for pid in per_pid if _parent(pid) == self.proc.pid]
        env_bytes = [sum(procs.rss_bytes(p) for p in procs.descendants(pid)) for pid in envs]
        return {"server_mib": measure.mib(server_bytes), "environments": len(envs),
                "env_mean_mib": measure.mib(sum(env_bytes) // len(env_bytes)) if env_bytes else None,
                "env_max_mib": measure.mib(max(env_bytes)) if env_bytes else None}


def _cpu_split(used_s: dict[str, float]) -> dict[str, float]:
    """CPU seconds: server process, its environments, the load generator, and the total."""
    envs = round(used_s["all"] - used_s["server"], 2)
    return {"server": used_s["server"], "environments": envs, "client": used_s["client"],
            "total": round(used_s["all"] + used_s["client"], 2)}


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return -1
    return int(stat[stat.rindex(b")") + 2:].split(b" ", 2)[1])


def _guarded(step: Callable[[], dict[str, Any]], error_key: str = "error") -> dict[str, Any]:
    """Run one measurement; a failure becomes an error entry so the other figures still print."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001
        return {error_key: f"{type(exc).__name__}: {exc}"}


class LambdaliteRun:
    def __init__(self, sizes: Sizes, work_dir: Path, profile: bool = False):
        self.sizes = sizes
        self.work_dir = work_dir
        self.profile = profile
        self.sink = Sink(sink_dir(work_dir) / "sink-lambdalite.txt")
        self.sink.path.chmod(0o666)  # functions run as their own uid in the sandbox
        self.server_env: dict[str, str] = {}  # for every Server started (LAMBDALITE_STORE: lambdalite_postgres.py)

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        result.update(_guarded(self.accept, "accept_error"))
        result.update(_guarded(lambda: self.accept(dispatch=True), "accept_with_dispatch_error"))
        result.update(_guarded(self.main_server, "main_error"))
        result["split"] = _guarded(self.split_e2e)
        result["sns"] = _guarded(self.sns_to_lambda)
        result["pool"] = _guarded(lambda: pool_overhead(self.sizes.warm_count * 4))
        from bench.s3_fanin import run_s3_fanin  # its own module (it imports this one)

        result["s3_fanin"] = _guarded(lambda: run_s3_fanin(self.sizes, self.work_dir))
        result["esm"] = _guarded(lambda: _esm(self.sizes, self.work_dir))
        if self.profile:
            result["profiles"] = _guarded(self.profiled)
        return result

    def profiled(self) -> dict[str, Any]:
        """Accept and end to end again, with py-spy attached: a pass of its own, so the sampling's cost does
        not touch the figures in the table."""
        out: dict[str, Any] = {}
        server = Server(self.work_dir, dispatch=False).start()
        try:
            server.create_function("bench-prof-accept", self.sink)
            with Profiler(server, self.work_dir / "profile-accept", enabled=True) as prof:
                load = self.run_accept_load(server, "bench-prof-accept")
            out["accept"] = {**(prof.summary or {}), "accept_per_s_while_sampled": load.get("accept_per_s")}
        finally:
            server.stop()
        server = Server(self.work_dir).start()
        try:
            server.create_function("bench-prof-e2e", self.sink)
            self.warm_up(server, "bench-prof-e2e")
            with Profiler(server, self.work_dir / "profile-e2e", enabled=True) as prof:
                e2e = self.end_to_end(server, "bench-prof-e2e")
            out["e2e"] = {**(prof.summary or {}), "e2e_per_s_while_sampled": e2e.get("e2e_per_s"),
                          "environments": server.rss_split()["environments"]}
            server.create_function("bench-prof-sync", self.sink)
            server.loadgen("sync", "bench-prof-sync", "--count", "20", timeout_s=60)  # cold start outside
            with Profiler(server, self.work_dir / "profile-sync", enabled=True) as prof:
                sync = server.loadgen("sync", "bench-prof-sync", "--count", str(self.sizes.warm_count * 4),
                                      timeout_s=120)
            out["sync"] = {**(prof.summary or {}), "warm_p50_ms_while_sampled": sync.get("warm_p50_ms")}
        finally:
            server.stop()
        return out

    def accept(self, dispatch: bool = False) -> dict[str, Any]:
        """Durable 202s per second. Without dispatch (`serve --no-dispatch`) the API alone is measured, as the
        peers' enqueue without workers; with it, the same server also runs the events it accepts."""
        server = Server(self.work_dir, dispatch=dispatch, env=self.server_env).start()
        key = "accept_with_dispatch" if dispatch else "accept"
        try:
            server.create_function(f"bench-{key}".replace("_", "-"), self.sink)
            with procs.RssSampler({"server": server.pid}) as rss, procs.CpuMeter({"all": server.pid}) as cpu:
                out = self.run_accept_load(server, f"bench-{key}".replace("_", "-"))
            out["peak_rss_mib"] = measure.mib(rss.peak_total_bytes)
            accepted = int(out.get("accepted", 0) or 0)
            if accepted:  # the server's own CPU per 202 (the load generator's is in cpu_s.client)
                out["cpu_s"] = cpu.used_s
                out["server_cpu_us_per_event"] = round(cpu.used_s["all"] * 1e6 / accepted, 1)
            return {key: out}
        finally:
            server.stop()

    def run_accept_load(self, server: Server, function: str) -> dict[str, Any]:
        seconds, conns = self.sizes.accept_s, self.sizes.accept_connections
        wrk = shutil.which("wrk")
        if wrk is None:
            out = server.loadgen("accept", function, "--seconds", str(seconds), "--connections", str(conns),
                                 timeout_s=seconds + 60)
            out["tool"] = "bench/loadgen.py"
            if "accepted_per_s" in out:
                out["accept_per_s"] = round(float(out.pop("accepted_per_s")), 1)
            return out
        url = f"{server.endpoint}/2015-03-31/functions/{function}/invocations"
        cmd = [wrk, "-t1", f"-c{conns}", f"-d{math.ceil(seconds)}s", "--timeout", "10s",
               "-s", str(REPO / "bench" / "accept.lua"), url]
        out = procs.run_json(cmd, timeout_s=seconds + 60)
        out["tool"] = f"wrk -t1 -c{conns}"
        if "accepted" in out:
            out["accept_per_s"] = round(int(out["accepted"]) / (int(out["duration_us"]) / 1e6), 1)
        return out

    def main_server(self) -> dict[str, Any]:
        """Idle RSS, cold and warm start, end to end and latency on one server with its dispatcher."""
        server = Server(self.work_dir).start()
        result: dict[str, Any] = {}
        try:
            time.sleep(1.0)  # let start-up allocations settle before reading idle RSS
            result["idle"] = server.rss_split()
            result["start"] = _guarded(lambda: self.cold_and_warm(server))
            server.create_function("bench-e2e", self.sink)
            self.warm_up(server, "bench-e2e")
            with procs.RssSampler({"server": server.pid}) as rss:
                with procs.CpuMeter({"all": server.pid}, {"server": server.pid}) as cpu:
                    result["e2e"] = _guarded(lambda: self.end_to_end(server, "bench-e2e"))
                result["e2e"]["cpu_s"] = _cpu_split(cpu.used_s)
                result["e2e_rss"] = server.rss_split()
                result["latency"] = _guarded(lambda: self.latency(server, "bench-e2e"))
            result["rss"] = {"peak_total_mib": measure.mib(rss.peak_total_bytes)}
            return result
        except Exception as exc:  # noqa: BLE001 - keep what was measured before
            result["main_error"] = f"{type(exc).__name__}: {exc}"
            return result
        finally:
            server.stop()

    def split_e2e(self) -> dict[str, Any]:
        """End to end with the API and the dispatcher in two processes on one data folder
        (`serve --no-dispatch` + `lambdalite worker`): what the one-process figure gains or loses by it."""
        server = Server(self.work_dir, dispatch=False).start()
        worker = procs.spawn([sys.executable, "-m", "lambdalite", "worker", "--data-dir", str(server.data_dir)],
                             env=server.env, log_path=self.work_dir / f"lambdalite-worker-{server.port}.log", cwd=REPO)
        try:
            server.create_function("bench-split", self.sink)
            self.warm_up(server, "bench-split")
            with procs.CpuMeter({"worker": worker.pid}, {"server": server.pid}) as cpu:
                out = self.end_to_end(server, "bench-split")
            out["cpu_s"] = {**cpu.used_s, "total": round(sum(cpu.used_s.values()), 2)}
            return out
        finally:
            procs.stop(worker, grace_s=5.0)
            server.stop()

    def sns_to_lambda(self) -> dict[str, Any]:
        """SNS Publish -> lambda subscription -> function, end to end (bench/sns.py)."""
        from bench.sns import run_sns

        server = Server(self.work_dir).start()
        try:
            return run_sns(server, self.sink, self.sizes)
        finally:
            server.stop()

    def cold_and_warm(self, server: Server) -> dict[str, Any]:
        server.create_function("bench-sync", self.sink)
        out = server.loadgen("sync", "bench-sync", "--count", str(self.sizes.warm_count + 1), timeout_s=120)
        out["rss_after"] = server.rss_split()
        return out

    def warm_up(self, server: Server, function: str) -> None:
        """Run a few events first, as the peers' pools are warm before they are measured."""
        self.sink.mark()
        warmup = 4 * cores()
        out = server.loadgen("send", function, "--count", str(warmup), "--connections", str(warmup), timeout_s=60)
        if "error" in out:
            raise RuntimeError(f"warm-up send failed: {out['error']}")
        if self.sink.wait_for(warmup, 60, stall_s=30) < warmup:
            raise RuntimeError(f"warm-up: only {self.sink.count()}/{warmup} events ran: {json.dumps(out)}")

    def end_to_end(self, server: Server, function: str) -> dict[str, Any]:
        n = self.sizes.e2e_count
        self.sink.mark()
        out = server.loadgen("send", function, "--count", str(n), "--connections", str(self.sizes.connections),
                             timeout_s=self.sizes.e2e_deadline_s)
        if "error" in out:
            return out
        accepted = int(out.get("statuses", {}).get("202", 0))
        if accepted:
            self.sink.wait_for(accepted, self.sizes.e2e_deadline_s, self.sizes.stall_s)
        result = measure.end_to_end(self.sink.records(), float(out["first_sent_s"]), n)
        result["send_seconds"] = round(float(out["last_accepted_s"]) - float(out["first_sent_s"]), 3)
        result["statuses"] = out.get("statuses")
        return result

    def latency(self, server: Server, function: str) -> dict[str, Any]:
        n, rate = self.sizes.latency_count, self.sizes.latency_rate
        self.sink.mark()
        out = server.loadgen("paced", function, "--count", str(n), "--rate", str(rate), "--connections", "8",
                             timeout_s=n / rate + 60)
        if "error" in out:
            return out
        self.sink.wait_for(n, 30.0, self.sizes.stall_s)
        result = measure.latency(self.sink.records(), n)
        result["late_sends"] = out.get("late_sends")
        result["statuses"] = out.get("statuses")
        return result


def pool_overhead(count: int) -> dict[str, Any]:
    """bench/runtime_warm.py (the runtime's own figures, no HTTP API): warm `pool.invoke` and cold start, in
    the sandbox (the default where bwrap works) and without it (keys ending `_unsandboxed`)."""
    script = REPO / "bench" / "runtime_warm.py"
    if not script.exists():
        return {}
    out: dict[str, Any] = {}
    for sandbox, suffix in (("auto", ""), ("off", "_unsandboxed")):
        cmd = [sys.executable, str(script), "--runtime", f"python3.{sys.version_info.minor}", "-n", str(count),
               "--colds", "3", "--sandbox", sandbox]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        if done.returncode != 0:
            out[f"error{suffix}"] = f"runtime_warm.py exit {done.returncode}: {done.stderr[-500:]}"
            continue
        out[f"raw{suffix}"] = done.stdout
        patterns = {"warm_round_trip": r"warm round trip\s+p50 ([\d.]+) ms\s+p99 ([\d.]+)",
                    "lambdalite_side": r"lambdalite side\s+p50 ([\d.]+) ms\s+p99 ([\d.]+)"}
        for key, pattern in patterns.items():
            match = re.search(pattern, done.stdout)
            if match:
                out[f"{key}_p50_ms{suffix}"], out[f"{key}_p99_ms{suffix}"] = float(match[1]), float(match[2])
        cold = re.search(r"cold start\s+median ([\d.]+) ms", done.stdout)
        if cold:
            out[f"cold_median_ms{suffix}"] = float(cold[1])
    return out


def _esm(sizes: Sizes, work_dir: Path) -> dict[str, Any]:
    from bench.esm import run_esm  # bench/esm.py imports this module's Server

    return run_esm(sizes, work_dir)


def run_lambdalite(sizes: Sizes, work_dir: Path, profile: bool = False) -> dict[str, Any]:
    return LambdaliteRun(sizes, work_dir, profile).run()
