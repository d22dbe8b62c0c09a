"""Turn sink records into the figures: end-to-end rate, send → handler-start latency percentiles."""

from __future__ import annotations

from typing import Any

from bench.sink import Record


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q / 100 * len(sorted_values)))]


def end_to_end(records: list[Record], first_sent_s: float, expected: int) -> dict[str, Any]:
    """Events per second from the first send until the last handler finished (measured events only)."""
    measured = [r for r in records if r.event_id >= 0]
    unique = len({r.event_id for r in measured})
    if not measured:
        return {"e2e_per_s": None, "e2e_completed": 0, "e2e_expected": expected, "e2e_duplicates": 0}
    elapsed_s = max(r.end_s for r in measured) - first_sent_s
    return {"e2e_per_s": round(unique / elapsed_s, 1) if elapsed_s > 0 else None, "e2e_seconds": round(elapsed_s, 3),
            "e2e_completed": unique, "e2e_expected": expected, "e2e_duplicates": len(measured) - unique}


def latency(records: list[Record], expected: int) -> dict[str, Any]:
    """Send → handler start, per event (both clocks are this machine's time.time())."""
    values_ms = sorted((r.start_s - r.sent_s) * 1e3 for r in records if r.event_id >= 0)
    p50, p95, p99 = (percentile(values_ms, q) for q in (50, 95, 99))
    return {"latency_p50_ms": _round(p50), "latency_p95_ms": _round(p95), "latency_p99_ms": _round(p99),
            "latency_max_ms": _round(values_ms[-1] if values_ms else None),
            "latency_completed": len(values_ms), "latency_expected": expected}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def mib(value_bytes: int) -> float:
    return round(value_bytes / 1024 / 1024, 1)
