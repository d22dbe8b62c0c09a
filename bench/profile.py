"""Sample the lambdalite server with py-spy during a workload and keep the top frames (`--profile`).

py-spy attaches from outside (no change to the server), samples every thread and the function
environments below it, and writes collapsed stacks; we keep the frames with the most samples, by self time
(the frame was on top) and inclusive (anywhere in the stack).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import procs

TOP_N = 15
# Frames at the bottom of every stack of a thread: always ~100% inclusive, so they say nothing.
ROOT_FRAMES = ("_run_code", "_run_module_as_main", "<module>", "main", "serve", "Runner.run", "Thread.run",
               "Thread._bootstrap", "Thread._bootstrap_inner", "run")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def summarize(collapsed_path: Path, top_n: int = TOP_N) -> dict[str, Any]:
    """Top frames of the server process (self and inclusive share of its samples) from a py-spy raw file.

    Stacks of child processes are nested under the server's (`process A;process B;frames`); the last
    `process` frame says whose stack it is. Environments get their share and their own top self frames.
    """
    self_server: Counter[str] = Counter()
    self_envs: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_process: Counter[str] = Counter()
    for line in collapsed_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        owners = [f for f in frames if f.startswith("process ")]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        is_server = not owners or " serve " in owners[-1]
        by_process["server" if is_server else "environments"] += count
        if is_server:
            self_server[_short(frames[-1])] += count
            for frame in {_short(f) for f in frames if f.partition(" (")[0] not in ROOT_FRAMES}:
                inclusive[frame] += count
        else:
            self_envs[_short(frames[-1])] += count
    server_total = by_process["server"]
    env_total = by_process["environments"]
    total = server_total + env_total

    def top(counter: Counter[str], denominator: int) -> list[list[Any]]:
        return [[frame, round(100 * n / denominator, 1)] for frame, n in counter.most_common(top_n)] \
            if denominator else []

    return {"samples": total, "share_by_process_pct": {k: round(100 * v / total, 1) for k, v in by_process.items()}
            if total else {}, "top_self_pct": top(self_server, server_total),
            "top_inclusive_pct": top(inclusive, server_total), "environments_top_self_pct": top(self_envs, env_total)}


def _short(frame: str) -> str:
    """`func (/long/path/pkg/mod.py:123)` -> `func (pkg/mod.py:123)`."""
    name, _, where = frame.partition(" (")
    parts = where.rstrip(")").split("/")
    return f"{name} ({'/'.join(parts[-2:])})" if where else name


class Profiler:
    """Context manager: py-spy records the server (and its children) while the block runs."""

    def __init__(self, server: Any, out_prefix: Path, enabled: bool):
        self.server = server
        self.raw_path = out_prefix.with_suffix(".txt")
        self.enabled = enabled and py_spy() is not None
        self.proc: subprocess.Popen[bytes] | None = None
        self.summary: dict[str, Any] | None = None

    def __enter__(self) -> Profiler:
        if self.enabled:
            cmd = [str(py_spy()), "record", "--pid", str(self.server.proc.pid), "--subprocesses",
                   "--rate", "200", "--format", "raw", "--output", str(self.raw_path), "--nonblocking"]
            self.proc = procs.spawn(cmd, log_path=self.raw_path.with_suffix(".log"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            procs.stop(self.proc)
        if self.raw_path.exists():
            self.summary = summarize(self.raw_path)
            self.summary["raw_file"] = str(self.raw_path)
