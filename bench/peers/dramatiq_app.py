"""Dramatiq actor for the benchmark: Redis broker, default middleware, the shared trivial handler.

Started as `dramatiq bench.peers.dramatiq_app` (default processes = cores, 8 threads each); the broker URL
and the sink file come from the environment (BENCH_REDIS_URL, BENCH_SINK).
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.sink import record

dramatiq.set_broker(RedisBroker(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")))


@dramatiq.actor(max_retries=0)
def echo(event: dict[str, object]) -> dict[str, object]:
    return record(event)


def send(event: dict[str, object]) -> None:
    echo.send(event)
