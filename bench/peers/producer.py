"""One producer process for a peer: enqueue through the peer's own client (`delay()` / `send()`).

Modes (each prints one JSON object on stdout):
  rate   --seconds S          enqueue as fast as possible for S seconds
  send   --count N            enqueue N events, report the first send time
  paced  --count N --rate R   enqueue N events at R per second, send time carried in each event
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.sink import event

APPS = {"celery": "bench.peers.celery_app", "dramatiq": "bench.peers.dramatiq_app"}


def run_rate(send: Callable[[dict[str, Any]], None], seconds: float) -> dict[str, Any]:
    send(event(-1, 0.0))  # connect outside the window
    n, start = 0, time.perf_counter()
    end = start + seconds
    while True:
        send(event(n, 0.0))
        n += 1
        if n % 64 == 0 and time.perf_counter() >= end:
            break
    elapsed_s = time.perf_counter() - start
    return {"mode": "rate", "count": n, "elapsed_s": elapsed_s, "enqueued_per_s": n / elapsed_s}


def run_send(send: Callable[[dict[str, Any]], None], count: int) -> dict[str, Any]:
    send(event(-1, time.time()))  # connect outside the measurement (the harness expects count + 1)
    first_sent_s = time.time()
    for i in range(count):
        send(event(i, time.time()))
    return {"mode": "send", "first_sent_s": first_sent_s, "last_sent_s": time.time(), "count": count}


def run_paced(send: Callable[[dict[str, Any]], None], count: int, rate: float) -> dict[str, Any]:
    send(event(-1, time.time()))  # connect outside the measurement (the harness expects count + 1)
    start, late = time.perf_counter() + 0.05, 0
    for i in range(count):
        delay_s = start + i / rate - time.perf_counter()
        if delay_s > 0:
            time.sleep(delay_s)
        elif delay_s < -0.005:
            late += 1
        send(event(i, time.time()))
    return {"mode": "paced", "count": count, "late_sends": late}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.producer")
    parser.add_argument("peer", choices=sorted(APPS))
    parser.add_argument("mode", choices=["rate", "send", "paced"])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    send = importlib.import_module(APPS[args.peer]).send
    if args.mode == "rate":
        result = run_rate(send, args.seconds)
    elif args.mode == "send":
        result = run_send(send, args.count)
    else:
        result = run_paced(send, args.count, args.rate)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
