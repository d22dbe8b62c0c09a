"""Function logs: one append-only file per function (`logs_dir/NAME.log`), AWS's START/END/REPORT lines.

Writes are buffered and flushed shortly afterwards (never one sync write per line on the hot path);
`print_logs` backs `lambdalite logs FUNCTION [--follow]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import sys
import time
from pathlib import Path
from typing import BinaryIO

from lambdalite.settings import Settings

FLUSH_DELAY_S = 0.2
BUFFER_BYTES = 256 * 1024
TAIL_BYTES = 4096
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def start_line(request_id: str, version: str) -> bytes:
    return f"START RequestId: {request_id} Version: {version}\n".encode()


def end_line(request_id: str) -> bytes:
    return f"END RequestId: {request_id}\n".encode()


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_memory_mb: int,
                init_duration_ms: float | None = None, status: str | None = None,
                error_type: str | None = None) -> bytes:
    """`REPORT RequestId: ID\\tDuration: 1.23 ms\\tBilled Duration: 2 ms\\t...` as AWS writes it."""
    billed_ms = max(1, math.ceil(duration_ms))
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
            f"Memory Size: {memory_mb} MB\tMax Memory Used: {max_memory_mb} MB")
    if init_duration_ms is not None:
        line += f"\tInit Duration: {init_duration_ms:.2f} ms"
    if status is not None:
        line += f"\tStatus: {status}"
        if error_type:
            line += f"\tError Type: {error_type}"
    return (line + "\n").encode()


def timestamp() -> str:
    """`2024-01-02T03:04:05.678Z`, the prefix AWS puts on its own platform lines."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class LogBook:
    """Buffered appends to each function's log file; flushed FLUSH_DELAY_S after the first unflushed write."""

    def __init__(self, logs_dir: Path):
        self.logs_dir = logs_dir
        self._files: dict[str, BinaryIO] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    def write(self, function: str, data: bytes) -> None:
        file = self._files.get(function)
        if file is None:
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            file = open(self.logs_dir / f"{function}.log", "ab", buffering=BUFFER_BYTES)  # noqa: SIM115
            self._files[function] = file
        file.write(data)
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                file.flush()
                return
            self._flush_handle = loop.call_later(FLUSH_DELAY_S, self.flush)

    def flush(self) -> None:
        self._flush_handle = None
        for file in self._files.values():
            with contextlib.suppress(OSError):
                file.flush()

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()
        for file in self._files.values():
            file.close()
        self._files.clear()


def log_path(settings: Settings, function: str) -> Path | None:
    if not _SAFE_NAME.fullmatch(function):
        return None
    return settings.logs_dir / f"{function}.log"


def print_logs(settings: Settings, function: str, follow: bool) -> int:
    """Print a function's log (and keep printing new lines with follow); 1 when it has none."""
    path = log_path(settings, function)
    if path is None or not path.exists():
        print(f"lambdalite: no logs for function {function!r} in {settings.logs_dir}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    try:
        with open(path, "rb") as file:
            while True:
                chunk = file.read(65536)
                if chunk:
                    out.write(chunk)
                    continue
                out.flush()
                if not follow:
                    return 0
                time.sleep(0.25)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
