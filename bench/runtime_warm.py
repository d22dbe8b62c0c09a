"""Warm-invoke overhead and cold start of lambdalite's execution environments (prints figures only).

Runs the pool in-process against a no-op python handler: p50/p99 of a warm `pool.invoke` round trip
(Runtime API next + response, logs, bookkeeping) and the cold start (spawn to first response).

    .venv/bin/python bench/runtime_warm.py [--runtime python3.12] [--client builtin|awslambdaric] [-n 5000]
                                           [--sandbox auto|off]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from lambdalite.model.run import InvokeRequest, RunSpec
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.settings import Settings
from lambdalite.store import open_store

NOOP = "def handler(event, context):\n    return None\n"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def run(runtime: str, client: str, count: int, colds: int, sandbox: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code_dir = Path(tmp) / "code"
        code_dir.mkdir()
        (code_dir / "handler.py").write_text(NOOP)
        settings = Settings(data_dir=Path(tmp) / "data", sandbox=sandbox)
        store = open_store(settings)  # the logs go where a server's go
        pool = EnvironmentPool(settings, store)
        arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"

        def spec(revision: str) -> RunSpec:
            return RunSpec("bench", arn, "$LATEST", runtime, "handler.handler", code_dir, "sha", 30.0, 512,
                           revision_id=revision, runtime_client=client)

        def request() -> InvokeRequest:
            return InvokeRequest(str(uuid.uuid4()), b'{"key":"value"}', arn)

        cold_ms, init_ms = [], []
        for i in range(colds):
            started = time.perf_counter()
            result = await pool.invoke(spec(f"cold-{i}"), request())
            cold_ms.append((time.perf_counter() - started) * 1000)
            init_ms.append(result.init_duration_ms or 0.0)
        warm_spec = spec(f"cold-{colds - 1}")
        for _ in range(200):
            await pool.invoke(warm_spec, request())
        warm_ms, inside_ms = [], []
        for _ in range(count):
            started = time.perf_counter()
            result = await pool.invoke(warm_spec, request())
            warm_ms.append((time.perf_counter() - started) * 1000)
            inside_ms.append(result.duration_ms)
        await pool.close()
        store.close()
    print(f"runtime={runtime} client={client} sandbox={sandbox} warm invokes={count}")
    print(f"  warm round trip   p50 {_percentile(warm_ms, 0.5):.3f} ms  p99 {_percentile(warm_ms, 0.99):.3f} ms")
    print(f"  runtime share     p50 {_percentile(inside_ms, 0.5):.3f} ms  (delivery to response, child side)")
    overhead = [w - d for w, d in zip(warm_ms, inside_ms, strict=True)]
    print(f"  lambdalite side   p50 {_percentile(overhead, 0.5):.3f} ms  p99 {_percentile(overhead, 0.99):.3f} ms")
    print(f"  cold start        median {statistics.median(cold_ms):.1f} ms  (Init Duration median "
          f"{statistics.median(init_ms):.1f} ms, {colds} starts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="python3.12")
    parser.add_argument("--client", default="builtin", choices=["builtin", "awslambdaric"])
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--colds", type=int, default=5)
    parser.add_argument("--sandbox", default="auto", choices=["auto", "off"])
    args = parser.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover
        runner = asyncio.Runner()
    with runner:
        runner.run(run(args.runtime, args.client, args.n, args.colds, args.sandbox))


if __name__ == "__main__":
    main()
