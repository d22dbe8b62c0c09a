"""Run the workloads against one peer (Celery or Dramatiq) on one private Redis (non-persistent or fsync'd)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import measure, procs
from bench.config import Sizes, cores
from bench.redis_server import RedisServer
from bench.sink import Sink

REPO = Path(__file__).resolve().parents[2]


def worker_command(peer: str) -> list[str]:
    if peer == "celery":
        return [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker", "--pool=prefork",
                f"--concurrency={cores()}", "--loglevel=WARNING"]
    # Dramatiq's defaults: one process per core, 8 threads each.
    return [sys.executable, "-m", "dramatiq", "bench.peers.dramatiq_app"]


class PeerRun:
    def __init__(self, peer: str, durable: bool, sizes: Sizes, work_dir: Path):
        self.peer = peer
        self.durable = durable
        self.sizes = sizes
        self.work_dir = work_dir
        self.label = f"{peer}+fsync" if durable else peer
        self.redis = RedisServer(durable, work_dir)
        self.sink = Sink(work_dir / f"sink-{self.label}.txt")
        self.env = {"BENCH_SINK": str(self.sink.path), "PYTHONPATH": str(REPO)}
        self.workers: subprocess.Popen[bytes] | None = None

    def producer(self, *args: str, timeout_s: float) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "bench.peers.producer", self.peer, *args]
        return procs.run_json(cmd, timeout_s=timeout_s, env=self.env, cwd=REPO)

    def run(self) -> dict[str, Any]:
        self.redis.start()
        self.env["BENCH_REDIS_URL"] = self.redis.url
        try:
            result = {"accept": self.accept()}
            self.redis.flush()
            workers = self.start_workers()
            assert self.redis.proc is not None
            with procs.RssSampler({"workers": workers.pid, "broker": self.redis.proc.pid}) as rss:
                with procs.CpuMeter({"workers": workers.pid, "broker": self.redis.proc.pid}) as cpu:
                    result["e2e"] = self.end_to_end()
                result["e2e"]["cpu_s"] = {**cpu.used_s, "total": round(sum(cpu.used_s.values()), 2)}
                result["latency"] = self.latency()
            result["rss"] = {"peak_workers_mib": measure.mib(rss.peak_by_label.get("workers", 0)),
                             "peak_broker_mib": measure.mib(rss.peak_by_label.get("broker", 0)),
                             "peak_total_mib": measure.mib(rss.peak_total_bytes)}
            return result
        finally:
            procs.stop(self.workers, grace_s=5.0)
            self.workers = None
            self.redis.stop()

    def accept(self) -> dict[str, Any]:
        """Enqueue rate from one producer process, no workers consuming (as lambdalite's serve --no-dispatch)."""
        assert self.redis.proc is not None
        with procs.CpuMeter({"broker": self.redis.proc.pid}) as cpu:
            out = self.producer("rate", "--seconds", str(self.sizes.accept_s), timeout_s=self.sizes.accept_s + 60)
        if "enqueued_per_s" not in out:
            return out
        # what accepting costs the peer: the broker's CPU per enqueue (the producer's is in cpu_s.client)
        return {"accept_per_s": round(float(out["enqueued_per_s"]), 1), "cpu_s": cpu.used_s,
                "server_cpu_us_per_event": round(cpu.used_s["broker"] * 1e6 / int(out["count"]), 1)}

    def start_workers(self) -> subprocess.Popen[bytes]:
        """Start the worker pool and wait until it has run tasks on every core (a warm pool, as in production)."""
        log = self.work_dir / f"workers-{self.label}.log"
        self.workers = procs.spawn(worker_command(self.peer), env=self.env, log_path=log, cwd=REPO)
        self.sink.mark()
        warmup = 4 * cores()
        out = self.producer("send", "--count", str(warmup), timeout_s=60)
        if "error" in out:
            raise RuntimeError(f"{self.label} warm-up send failed: {out['error']}")
        done = self.sink.wait_for(warmup + 1, self.sizes.worker_start_s, stall_s=self.sizes.worker_start_s)
        if done < warmup + 1:
            raise RuntimeError(f"{self.label} workers ran {done}/{warmup + 1} warm-up tasks; see {log}")
        return self.workers

    def end_to_end(self) -> dict[str, Any]:
        n = self.sizes.e2e_count
        self.sink.mark()
        out = self.producer("send", "--count", str(n), timeout_s=self.sizes.e2e_deadline_s)
        if "error" in out:
            return out
        self.sink.wait_for(n + 1, self.sizes.e2e_deadline_s, self.sizes.stall_s)
        result = measure.end_to_end(self.sink.records(), float(out["first_sent_s"]), n)
        result["send_seconds"] = round(float(out["last_sent_s"]) - float(out["first_sent_s"]), 3)
        return result

    def latency(self) -> dict[str, Any]:
        n, rate = self.sizes.latency_count, self.sizes.latency_rate
        self.sink.mark()
        out = self.producer("paced", "--count", str(n), "--rate", str(rate), timeout_s=n / rate + 60)
        if "error" in out:
            return out
        self.sink.wait_for(n + 1, 30.0, self.sizes.stall_s)
        result = measure.latency(self.sink.records(), n)
        result["late_sends"] = out.get("late_sends")
        return result


def run_peer(peer: str, durable: bool, sizes: Sizes, work_dir: Path) -> dict[str, Any]:
    try:
        return PeerRun(peer, durable, sizes, work_dir).run()
    except Exception as exc:  # noqa: BLE001 - one peer failing must not lose the others' figures
        return {"error": f"{type(exc).__name__}: {exc}"}
