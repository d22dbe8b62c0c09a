"""Function logs: one append-only file per function (`logs_dir/NAME.log`), AWS's START/END/REPORT lines.

Writes are buffered and flushed shortly afterwards (never one sync write per line on the hot path);
`print_logs` backs `lambdalite logs FUNCTION [--follow]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
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


def stream_name(version: str, epoch_s: float | None = None) -> str:
    """A log stream as Lambda names one execution environment's: `2024/01/02/[$LATEST]<32 hex>`."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if epoch_s is None else epoch_s))
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def index_path(log: Path) -> Path:
    """NAME.log's index (NAME.idx, rotated with it): one `offset time_ms stream` line per write, so the
    CloudWatch Logs API (services/logs) can tell each line's time and execution environment."""
    name = log.name.replace(".log", ".idx", 1)
    return log.with_name(name)


@dataclass(slots=True)
class _OpenLog:
    """One function's log and index files in this process, and what waits to be written to them."""

    log_fd: int
    idx_fd: int
    size: int  # the log file's size at the last flush (this process's view)
    pending: bytearray = field(default_factory=bytearray)
    marks: list[tuple[int, int, bytes]] = field(default_factory=list)  # (offset in pending, time_ms, stream)


class LogBook:
    """Buffered appends to each function's log file; flushed FLUSH_DELAY_S after the first unflushed write.

    A file that reaches `max_bytes` is rotated (NAME.log -> NAME.log.1 -> ... -> NAME.log.<keep>, the oldest
    dropped), so a chatty function cannot fill the disk: at most (keep + 1) x max_bytes per function.
    Writes that name their stream are indexed in NAME.idx (see `index_path`), rotated along. A flush is one
    append under an exclusive flock of the log, so the index's offsets stay right when two processes (an
    API and a worker on one data folder) write the same function's log."""

    def __init__(self, logs_dir: Path, max_bytes: int = 64 << 20, keep: int = 3):
        self.logs_dir = logs_dir
        self.max_bytes = max_bytes
        self.keep = keep
        self._open: dict[str, _OpenLog] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    def write(self, function: str, data: bytes, stream: str = "") -> None:
        entry = self._open.get(function)
        if entry is None:
            entry = self._open_files(function)
        if stream:
            entry.marks.append((len(entry.pending), time.time_ns() // 1_000_000, stream.encode()))
        entry.pending += data
        if len(entry.pending) >= BUFFER_BYTES or (self.max_bytes and entry.size + len(entry.pending) >= self.max_bytes):
            self._flush_one(function, entry)  # (the second: the flush rotates, as the file is full)
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a tool, a test): write through
                self.flush()
                return
            self._flush_handle = loop.call_later(FLUSH_DELAY_S, self.flush)

    def _open_files(self, function: str) -> _OpenLog:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        path = self.logs_dir / f"{function}.log"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        log_fd = os.open(path, flags, 0o644)
        entry = self._open[function] = _OpenLog(log_fd, os.open(index_path(path), flags, 0o644),
                                                os.fstat(log_fd).st_size)
        return entry

    def _flush_one(self, function: str, entry: _OpenLog) -> None:
        if not entry.pending:
            return
        size = 0
        try:
            fcntl.flock(entry.log_fd, fcntl.LOCK_EX)
            try:
                base = os.fstat(entry.log_fd).st_size
                if entry.marks:
                    _write_all(entry.idx_fd, b"".join(b"%d %d %s\n" % (base + at, ms, stream)
                                                      for at, ms, stream in entry.marks))
                _write_all(entry.log_fd, entry.pending)
                size = base + len(entry.pending)
            finally:
                fcntl.flock(entry.log_fd, fcntl.LOCK_UN)
        except OSError:
            pass  # a full disk loses these lines, never the invocation
        entry.pending.clear()
        entry.marks.clear()
        entry.size = size
        if self.max_bytes and size >= self.max_bytes:
            self._rotate(function)

    def _rotate(self, function: str) -> None:
        self._close(function)
        for current in (self.logs_dir / f"{function}.log", index_path(self.logs_dir / f"{function}.log")):
            for number in range(self.keep, 0, -1):  # the oldest is overwritten: dropped
                source = current if number == 1 else current.with_name(f"{current.name}.{number - 1}")
                with contextlib.suppress(OSError):
                    source.rename(current.with_name(f"{current.name}.{number}"))
            if not self.keep:
                current.unlink(missing_ok=True)

    def _close(self, function: str) -> None:
        entry = self._open.pop(function, None)
        if entry is not None:
            for fd in (entry.log_fd, entry.idx_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def flush(self) -> None:
        self._flush_handle = None
        for function, entry in list(self._open.items()):
            self._flush_one(function, entry)

    def forget(self, function: str) -> None:
        """Drop a function's unwritten lines and close its files (its log group was deleted)."""
        self._close(function)

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()
        for function in list(self._open):
            self._close(function)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def log_path(settings: Settings, function: str) -> Path | None:
    if not _SAFE_NAME.fullmatch(function):
        return None
    return settings.logs_dir / f"{function}.log"


def rotated_paths(path: Path, count: int) -> list[Path]:
    """NAME.log.1 ... NAME.log.<count> (newest first), whether they exist or not."""
    return [path.with_name(f"{path.name}.{number}") for number in range(1, count + 1)]


def print_logs(settings: Settings, function: str, follow: bool) -> int:
    """Print a function's log, rotated files first (and keep printing new lines with follow, across
    rotations); 1 when it has none."""
    path = log_path(settings, function)
    if path is None or not path.exists():
        print(f"lambdalite: no logs for function {function!r} in {settings.logs_dir}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    try:
        for old in reversed(rotated_paths(path, settings.log_keep_files)):
            with contextlib.suppress(OSError), open(old, "rb") as file:
                _copy(file, out)
        while True:
            with open(path, "rb") as file:
                while True:
                    _copy(file, out)
                    out.flush()
                    if not follow:
                        return 0
                    if _rotated(file, path):
                        _copy(file, out)  # what the server wrote before it rotated
                        break
                    time.sleep(0.25)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0


def _copy(file: BinaryIO, out: BinaryIO) -> None:
    """The file's text, a runtime's multi-line record (lines joined by `\\r`, as Lambda's runtimes write an
    uncaught error) shown on its lines, as CloudWatch shows it."""
    while chunk := file.read(65536):
        out.write(chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))


def _rotated(file: BinaryIO, path: Path) -> bool:
    """Whether `path` is now another file than the one open (the server rotated the log)."""
    try:
        return os.stat(path).st_ino != os.fstat(file.fileno()).st_ino
    except OSError:
        return False
