"""Workload sizes: the full run (issue 5) and `--quick` (under two minutes in all)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    accept_s: float  # length of each accept-rate window
    e2e_count: int  # events in the end-to-end run
    latency_count: int  # events sent at latency_rate
    latency_rate: float  # events per second
    warm_count: int  # warm sync invokes after the cold one
    connections: int  # concurrent HTTP connections of the load generator (end to end)
    accept_connections: int  # ... for the accept rate: enough to keep group commits full
    e2e_deadline_s: float  # an end-to-end run stops here even if events are missing
    stall_s: float  # ... or when nothing completed for this long
    worker_start_s: float  # how long peers' workers may take to answer the first task


FULL = Sizes(accept_s=10.0, e2e_count=20_000, latency_count=500, latency_rate=100.0, warm_count=500,
             connections=64, accept_connections=256, e2e_deadline_s=240.0, stall_s=30.0, worker_start_s=60.0)
QUICK = Sizes(accept_s=2.0, e2e_count=1_000, latency_count=100, latency_rate=100.0, warm_count=100,
              connections=64, accept_connections=256, e2e_deadline_s=30.0, stall_s=10.0, worker_start_s=30.0)


def cores() -> int:
    return os.cpu_count() or 1
