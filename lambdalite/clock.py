"""Pure: wall-clock milliseconds, the unit every stored time uses (due times, leases, ages)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
