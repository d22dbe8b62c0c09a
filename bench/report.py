"""One table of figures (lambdalite, each peer, ratio lambdalite / best peer, issue 5's target) and the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SYSTEMS = ["lambdalite", "lambdalite+pg", "celery", "dramatiq", "celery+fsync", "dramatiq+fsync"]
PEERS_MEMORY = ["celery", "dramatiq"]
PEERS_DURABLE = ["celery+fsync", "dramatiq+fsync"]


def _get(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def getter(result: dict[str, Any]) -> float | None:
        value: Any = result
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value) if isinstance(value, int | float) else None

    return getter


def _cpu_per_thousand(result: dict[str, Any]) -> float | None:
    e2e = result.get("e2e")
    if not isinstance(e2e, dict) or not e2e.get("e2e_completed") or "cpu_s" not in e2e:
        return None
    return float(e2e["cpu_s"]["total"]) * 1000 / float(e2e["e2e_completed"])


@dataclass(frozen=True)
class Row:
    label: str
    get: Callable[[dict[str, Any]], float | None]
    higher_is_better: bool
    target: float | None = None  # issue 5's target for lambdalite
    peers: bool = True  # whether the peers have this figure


ROWS = [
    Row("accept rate, durable 202s (API only) or enqueues /s", _get("accept", "accept_per_s"), True, 10_000),
    Row("  accepting CPU per event, µs (lambdalite server; peers: Redis)",
        _get("accept", "server_cpu_us_per_event"), False),
    Row("accept rate while also running the events, /s", _get("accept_with_dispatch", "accept_per_s"), True,
        peers=False),
    Row("end to end, events/s", _get("e2e", "e2e_per_s"), True, 3_000),
    Row("  end to end, API and dispatcher in 2 processes, events/s", _get("split", "e2e_per_s"), True,
        peers=False),
    Row("  S3 PUT → Lambda fan-in, events/s (bench/s3_fanin.py)", _get("s3_fanin", "e2e_per_s"), True, peers=False),
    Row("  SQS → mapping → function, messages/s (BatchSize 10)", _get("esm", "batch10_per_s"), True, peers=False),
    Row("  SQS → mapping → function, messages/s (BatchSize 1)", _get("esm", "batch1_per_s"), True, peers=False),
    Row("  SNS Publish → Lambda end to end, events/s (bench/sns.py)", _get("sns", "e2e_per_s"), True, peers=False),
    Row("CPU per 1,000 events end to end, s (all processes)", _cpu_per_thousand, False),
    Row("latency send→start p50, ms", _get("latency", "latency_p50_ms"), False, 2),
    Row("latency send→start p95, ms", _get("latency", "latency_p95_ms"), False),
    Row("latency send→start p99, ms", _get("latency", "latency_p99_ms"), False, 10),
    Row("cold start (first sync invoke), ms", _get("start", "cold_ms"), False, 150, peers=False),
    Row("warm sync invoke p50, ms", _get("start", "warm_p50_ms"), False, 1, peers=False),
    Row("warm sync invoke p99, ms", _get("start", "warm_p99_ms"), False, peers=False),
    Row("  warm invoke in-process, lambdalite's share p50, ms (runtime_warm.py)", _get("pool", "lambdalite_side_p50_ms"), False,
        peers=False),
    Row("  warm invoke in-process, round trip p50, ms (runtime_warm.py)", _get("pool", "warm_round_trip_p50_ms"), False,
        peers=False),
    Row("    the same without the sandbox, ms", _get("pool", "warm_round_trip_p50_ms_unsandboxed"), False,
        peers=False),
    Row("  cold start in-process, median, ms (runtime_warm.py)", _get("pool", "cold_median_ms"), False, 150,
        peers=False),
    Row("    the same without the sandbox, ms", _get("pool", "cold_median_ms_unsandboxed"), False, peers=False),
    Row("peak RSS under load, MiB (all processes)", _get("rss", "peak_total_mib"), False),
    Row("idle server RSS, MiB", _get("idle", "server_mib"), False, 80, peers=False),
    Row("RSS per warm environment, MiB", _get("e2e_rss", "env_mean_mib"), False, 25, peers=False),
]


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _best(row: Row, values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return max(present) if row.higher_is_better else min(present)


def _ratio(mine: float | None, best: float | None) -> str:
    if mine is None or best is None or best == 0:
        return "—"
    return f"{mine / best:.2f}"


def _vs_target(row: Row, mine: float | None) -> str:
    if row.target is None:
        return ""
    goal = f"{'≥' if row.higher_is_better else '≤'} {_fmt(row.target)}"
    if mine is None:
        return f"{goal}: no figure"
    met = mine >= row.target if row.higher_is_better else mine <= row.target
    if met:
        return f"{goal}: met"
    factor = row.target / mine if row.higher_is_better and mine else mine / row.target
    return f"{goal}: missed ×{factor:.2f}"


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table; ratios are lambdalite / best peer (best = highest rate, lowest time or memory)."""
    head = ["figure", *SYSTEMS, "ll / best peer", "ll / best fsync peer", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in ROWS:
        values = {s: row.get(results.get(s, {})) for s in SYSTEMS}
        mine = values["lambdalite"]
        cells = [row.label, *(_fmt(values[s]) if row.peers or s.startswith("lambdalite") else "n/a"
                              for s in SYSTEMS)]
        if row.peers:
            cells += [_ratio(mine, _best(row, [values[s] for s in PEERS_MEMORY])),
                      _ratio(mine, _best(row, [values[s] for s in PEERS_DURABLE]))]
        else:
            cells += ["n/a", "n/a"]
        cells.append(_vs_target(row, mine))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(results: dict[str, dict[str, Any]]) -> list[str]:
    """Anything that makes a figure partial: errors, events missing, non-202 answers, late sends."""
    from bench.lambdalite_postgres import target_notes

    out = target_notes(results.get("lambdalite+pg", {}))
    for system in SYSTEMS:
        result = results.get(system, {})
        for key, value in result.items():
            if key == "error" or key.endswith("_error"):
                out.append(f"{system}: {key}: {value}")
            elif isinstance(value, dict) and "error" in value:
                out.append(f"{system} {key}: {value['error']}")
        e2e = result.get("e2e", {})
        split = result.get("split", {})
        if isinstance(split, dict) and split.get("e2e_completed") not in (None, split.get("e2e_expected")):
            out.append(f"{system}: split end to end completed {split.get('e2e_completed')}/"
                       f"{split.get('e2e_expected')} events")
        if isinstance(e2e, dict) and e2e.get("e2e_completed") not in (None, e2e.get("e2e_expected")):
            out.append(f"{system}: end to end completed {e2e.get('e2e_completed')}/{e2e.get('e2e_expected')} "
                       "events before the deadline or a stall; the rate counts completed events only")
        for key in ("e2e", "latency"):
            statuses = result.get(key, {}).get("statuses") if isinstance(result.get(key), dict) else None
            if statuses and set(statuses) - {"202"}:
                out.append(f"{system} {key}: answers by status {statuses}")
        errors = result.get("start", {}).get("function_errors") if isinstance(result.get("start"), dict) else None
        if errors:
            out.append(f"{system}: {errors} sync invokes answered with X-Amz-Function-Error "
                       f"(first body: {result['start'].get('first_body', '')[:160]})")
        late = result.get("latency", {}).get("late_sends") if isinstance(result.get("latency"), dict) else None
        if late:
            out.append(f"{system}: {late} latency sends left more than 5 ms after their slot")
    return out


def profile_section(results: dict[str, dict[str, Any]]) -> str:
    parts = []
    mine = results.get("lambdalite", {})
    profiles = mine.get("profiles", {})
    for title, profile in (("accept (serve --no-dispatch)", profiles.get("accept")),
                           ("end to end (serve)", profiles.get("e2e")),
                           ("warm sync invokes, one connection (serve)", profiles.get("sync"))):
        if not profile or not profile.get("samples"):
            continue
        rate = profile.get("accept_per_s_while_sampled") or profile.get("e2e_per_s_while_sampled")
        if "warm_p50_ms_while_sampled" in profile:
            rate = f"p50 {profile['warm_p50_ms_while_sampled']:.3f} ms"
        envs = f", {profile['environments']} environments" if "environments" in profile else ""
        parts.append(f"### py-spy: {title}\n\n{profile['samples']} samples (runnable threads only); by process: "
                     f"{profile['share_by_process_pct']}; {rate} while sampled{envs}\n")
        for heading, key in (("server, self %", "top_self_pct"), ("server, inclusive %", "top_inclusive_pct"),
                             ("environments, self %", "environments_top_self_pct")):
            if profile.get(key):
                parts.append(f"| {heading} | frame |\n|---|---|")
                parts += [f"| {pct} | `{frame}` |" for frame, pct in profile[key]]
                parts.append("")
    return "\n".join(parts)


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"# lambdalite benchmark run {doc['started_at']} ({doc['mode']})", "",
        f"Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB memory, Python {m['python']}, "
        f"{m['platform']}; disk {m['disk']}, one 100-byte append+fsync p50 {m['fsync_p50_ms']} ms; "
        f"redis-server {m['redis_server']}.",
        f"Load average at start {m['load_average_at_start']}, at end {doc.get('load_average_at_end')} "
        f"(other work on the machine shares its cores with every system measured).",
        f"Load average before each system: {doc.get('load_before', {})}.",
        f"Sizes: {doc['sizes']}.", "",
        table(doc["results"]), "",
    ]
    found = notes(doc["results"])
    if found:
        lines += ["Notes:", "", *(f"- {n}" for n in found), ""]
    section = profile_section(doc["results"])
    if section:
        lines += [section, ""]
    return "\n".join(lines)
