"""`python -m bench [--quick]`: every workload against lambdalite, Celery and Dramatiq, one table.

Writes bench/results/<time>.json and .md (and latest.json / latest.md) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench import machine, procs, report
from bench.config import FULL, QUICK, Sizes
from bench.lambdalite_postgres import run_lambdalite_postgres
from bench.lambdalite_side import run_lambdalite
from bench.peers.runner import run_peer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PEER_RUNS = {"celery": ("celery", False), "dramatiq": ("dramatiq", False),
             "celery+fsync": ("celery", True), "dramatiq+fsync": ("dramatiq", True)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller workloads: the whole run in under two minutes")
    parser.add_argument("--only", nargs="+", choices=report.SYSTEMS, help="run just these systems")
    parser.add_argument("--profile", action="store_true",
                        help="sample the lambdalite server with py-spy during accept and end to end")
    parser.add_argument("--connections", type=int, help="load generator's concurrent connections (default 64)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the JSON and Markdown go")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, sink files)")
    return parser.parse_args(argv)


def sizes_for(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    return replace(sizes, connections=args.connections, accept_connections=args.connections) if args.connections \
        else sizes


def run_all(args: argparse.Namespace, work_dir: Path, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sizes = sizes_for(args)
    results: dict[str, dict[str, Any]] = {}
    doc["load_before"] = {}
    for system in args.only or report.SYSTEMS:
        started = time.monotonic()
        doc["load_before"][system] = round(os.getloadavg()[0], 2)
        print(f"[bench] {system} ...", file=sys.stderr, flush=True)
        if system == "lambdalite":
            results[system] = run_lambdalite(sizes, work_dir, profile=args.profile)
        elif system == "lambdalite+pg":
            results[system] = run_lambdalite_postgres(sizes, work_dir)
        else:
            peer, durable = PEER_RUNS[system]
            results[system] = run_peer(peer, durable, sizes, work_dir)
        print(f"[bench] {system} done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return results


def write(doc: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = doc["started_at"].replace(":", "").replace("-", "")
    text = json.dumps(doc, indent=2, default=str)
    markdown = report.markdown(doc)
    for name in (stem, "latest"):
        (out_dir / f"{name}.json").write_text(text)
        (out_dir / f"{name}.md").write_text(markdown)
    return out_dir / f"{stem}.md"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    procs.install_cleanup()
    work_dir = Path(tempfile.mkdtemp(prefix="lambdalite-bench-"))
    sizes = sizes_for(args)
    doc: dict[str, Any] = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "mode": "quick" if args.quick else "full",
                           "sizes": asdict(sizes), "machine": machine.describe(work_dir), "work_dir": str(work_dir)}
    started = time.monotonic()
    try:
        doc["results"] = run_all(args, work_dir, doc)
    finally:
        procs.cleanup_all()
    doc["elapsed_s"] = round(time.monotonic() - started, 1)
    doc["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write(doc, args.out)
    print(report.table(doc["results"]))
    for note in report.notes(doc["results"]):
        print(f"- {note}")
    print(f"\n{doc['elapsed_s']} s; report {path} (and {path.with_suffix('.json')})")
    if args.keep or args.profile or report.notes(doc["results"]):
        print(f"logs and sink files kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
