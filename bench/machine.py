"""What the figures were taken on: cores, memory, CPU model, Python, disk, load, and one fsync's cost."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _disk(path: Path) -> str:
    """Filesystem, device and size of the disk that holds the temp data folders."""
    try:
        out = subprocess.run(["df", "-hT", str(path)], capture_output=True, text=True, timeout=5).stdout
        fields = out.splitlines()[1].split()
        device, fstype, size = fields[0], fields[1], fields[2]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"
    rotational = "unknown"
    name = Path(device).name.rstrip("0123456789")
    flag = Path(f"/sys/block/{name}/queue/rotational")
    if flag.exists():
        rotational = "kernel says rotational" if flag.read_text().strip() == "1" else "kernel says non-rotational"
    return f"{device} ({fstype}, {size}, {rotational})"


def fsync_cost_ms(directory: Path, count: int = 50) -> float:
    """Median time of a 100-byte append + fsync: what one durable write costs on this disk."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="fsync-probe-")
    times_ms = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 100)
            os.fsync(fd)
            times_ms.append((time.perf_counter() - t0) * 1e3)
    finally:
        os.close(fd)
        os.unlink(name)
    times_ms.sort()
    return round(times_ms[len(times_ms) // 2], 3)


def describe(data_root: Path) -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "disk": _disk(data_root),
        "fsync_p50_ms": fsync_cost_ms(data_root),
        "redis_server": _redis_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _redis_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "missing"
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.split()[2].removeprefix("v=") if len(out.split()) > 2 else out.strip()
