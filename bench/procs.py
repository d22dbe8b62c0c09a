"""Child processes of the harness: start them in their own session, measure their tree's RSS, kill them all.

Every process the harness starts is registered here, so a crash, Ctrl-C or a timeout still leaves
nothing running behind it (`cleanup_all` runs at exit and on SIGTERM/SIGINT).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_CHILDREN: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def spawn(cmd: list[str], *, env: dict[str, str] | None = None, log_path: Path | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `cmd` in a new session (its own process group) and register it for cleanup."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    _CHILDREN.append(proc)
    return proc


def descendants(root_pid: int) -> list[int]:
    """root_pid and every live process below it (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split(b" ", 2)[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _start_ticks(pid: int) -> int | None:
    """A process's start time (clock ticks since boot): tells a live process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2:].split(b" ")[19])


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root_pids: Iterable[int]) -> tuple[int, dict[int, int]]:
    """Total RSS of the trees under root_pids, and each process's RSS."""
    per_pid = {pid: rss_bytes(pid) for root in root_pids for pid in descendants(root)}
    return sum(per_pid.values()), per_pid


def stop(proc: subprocess.Popen[bytes] | None, grace_s: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL whatever is left of the tree after grace_s."""
    if proc is None:
        return
    tree = [(pid, _start_ticks(pid)) for pid in descendants(proc.pid)] if proc.poll() is None else []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid, started in tree:  # children that left the group (setsid) but are still the same process
        if started is not None and _start_ticks(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)


def cleanup_all() -> None:
    for proc in list(_CHILDREN):
        stop(proc, grace_s=2.0)


def _on_signal(signum: int, _frame: object) -> None:
    cleanup_all()
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    atexit.register(cleanup_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


@dataclass
class RssSampler:
    """Samples the summed RSS of some process trees every interval_s in a background thread."""

    roots: dict[str, int]  # label -> root pid
    interval_s: float = 0.2
    peak_total_bytes: int = 0
    peak_by_label: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> int:
        total = 0
        for label, pid in self.roots.items():
            value, _ = tree_rss([pid])
            self.peak_by_label[label] = max(self.peak_by_label.get(label, 0), value)
            total += value
        self.peak_total_bytes = max(self.peak_total_bytes, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()


def run_json(cmd: list[str], *, timeout_s: float, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> dict[str, Any]:
    """Run a helper (load generator, producer) to the end and parse the JSON line it prints last."""
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    _CHILDREN.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(proc, grace_s=1.0)
        return {"error": f"timed out after {timeout_s}s: {' '.join(cmd[:6])}"}
    finally:
        if proc in _CHILDREN:
            _CHILDREN.remove(proc)
    for line in reversed(out.decode(errors="replace").splitlines()):
        line = line.removeprefix("BENCH_JSON ").strip()
        if line.startswith("{"):
            import json

            parsed: dict[str, Any] = json.loads(line)
            return parsed
    return {"error": f"exit {proc.returncode}: {err.decode(errors='replace')[-1500:]}"}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one live process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(b")") + 2:].split(b" ")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds spent during a block by labelled process trees, and by the harness's finished helpers
    (load generator, producer: RUSAGE_CHILDREN). Processes that exit inside the block are not counted."""

    def __init__(self, roots: dict[str, int], singles: dict[str, int] | None = None):
        self.roots = roots  # label -> pid: the whole tree below it
        self.singles = singles or {}  # label -> pid: that process alone
        self.used_s: dict[str, float] = {}

    def _snapshot(self) -> dict[str, float]:
        out = {label: sum(cpu_s(p) for p in descendants(pid)) for label, pid in self.roots.items()}
        out.update({label: cpu_s(pid) for label, pid in self.singles.items()})
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["client"] = usage.ru_utime + usage.ru_stime
        return out

    def __enter__(self) -> CpuMeter:
        self._before = self._snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self._snapshot()
        self.used_s = {k: round(after[k] - self._before.get(k, 0.0), 2) for k in after}
