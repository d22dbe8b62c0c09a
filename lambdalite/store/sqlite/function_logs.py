"""Function logs in the data folder: one append-only file per function (`logs/NAME.log`) and its index.

NAME.idx holds one `offset time_ms stream` line per write, so each line's time and execution environment
can be told (model/function_log.py reads them back as events). A file that reaches `max_bytes` is rotated
(NAME.log -> NAME.log.1 -> ... -> NAME.log.<keep>, the oldest dropped), index along, so a chatty function
cannot fill the disk: at most (keep + 1) x max_bytes per function. A flush is one append per function
under an exclusive flock of its log, so the index's offsets stay right when two processes (an API and a
worker on one data folder) write the same function's log. Plain files rather than SQLite rows: appends
cost one write(2) each, off the database's single writer, and `tail -f` works on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lambdalite.model.function_log import FunctionLogs, LogChunk, LogWrite, printable, retention_cutoff_ms
from lambdalite.settings import Settings

FOLLOW_POLL_S = 0.25
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def index_path(log: Path) -> Path:
    """NAME.log's index: NAME.idx (NAME.log.2's is NAME.idx.2)."""
    return log.with_name(log.name.replace(".log", ".idx", 1))


def rotated_paths(path: Path, count: int) -> list[Path]:
    """NAME.log.1 ... NAME.log.<count> (newest first), whether they exist or not."""
    return [path.with_name(f"{path.name}.{number}") for number in range(1, count + 1)]


@dataclass(slots=True)
class _OpenLog:
    log_fd: int
    idx_fd: int
    size: int  # the log file's size at the last flush (this process's view)


class LogFiles:
    """This process's open log files: appends, rotation, and reading them back."""

    def __init__(self, logs_dir: Path, max_bytes: int, keep: int):
        self.logs_dir = logs_dir
        self.max_bytes = max_bytes
        self.keep = keep
        self._open: dict[str, _OpenLog] = {}

    def path(self, function: str) -> Path | None:
        return self.logs_dir / f"{function}.log" if _SAFE_NAME.fullmatch(function) else None

    def append(self, chunk: LogChunk) -> None:
        if not chunk.data or self.path(chunk.function) is None:
            return
        try:
            size = (self._open.get(chunk.function) or self._open_files(chunk.function)).size
        except OSError:
            return  # a full disk loses these lines, never the invocation
        if not self.max_bytes or size + len(chunk.data) < self.max_bytes:
            self._append(chunk.function, chunk.data, chunk.marks)  # the usual case: one append
            return
        for data, marks in _pieces(chunk, size, self.max_bytes):  # each fills a file up to max_bytes
            self._append(chunk.function, data, marks)

    def _append(self, function: str, data: bytes | bytearray, marks: list[tuple[int, int, str]]) -> None:
        try:
            entry = self._open.get(function) or self._open_files(function)
            fcntl.flock(entry.log_fd, fcntl.LOCK_EX)
            try:
                base = os.fstat(entry.log_fd).st_size
                if marks:
                    _write_all(entry.idx_fd, "".join([f"{base + at} {ms} {stream}\n"
                                                      for at, ms, stream in marks]).encode())
                _write_all(entry.log_fd, data)
                entry.size = base + len(data)
            finally:
                fcntl.flock(entry.log_fd, fcntl.LOCK_UN)
        except OSError:
            return  # a full disk loses these lines, never the invocation
        if self.max_bytes and entry.size >= self.max_bytes:
            self._rotate(function)

    def _open_files(self, function: str) -> _OpenLog:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        path = self.logs_dir / f"{function}.log"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        log_fd = os.open(path, flags, 0o644)
        entry = self._open[function] = _OpenLog(log_fd, os.open(index_path(path), flags, 0o644),
                                                os.fstat(log_fd).st_size)
        return entry

    def _rotate(self, function: str) -> None:
        self.close_one(function)
        for current in (self.logs_dir / f"{function}.log", index_path(self.logs_dir / f"{function}.log")):
            for number in range(self.keep, 0, -1):  # the oldest is overwritten: dropped
                source = current if number == 1 else current.with_name(f"{current.name}.{number - 1}")
                with contextlib.suppress(OSError):
                    source.rename(current.with_name(f"{current.name}.{number}"))
            if not self.keep:
                current.unlink(missing_ok=True)

    def close_one(self, function: str) -> None:
        entry = self._open.pop(function, None)
        if entry is not None:
            for fd in (entry.log_fd, entry.idx_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close(self) -> None:
        for function in list(self._open):
            self.close_one(function)

    def files(self, function: str) -> list[Path]:
        """The function's log files, oldest first, that exist."""
        current = self.path(function)
        if current is None:
            return []
        return [p for p in (*reversed(rotated_paths(current, self.keep)), current) if p.exists()]

    def read(self, function: str) -> list[LogWrite]:
        return [write for path in self.files(function) for write in _file_writes(path)]

    def functions(self) -> list[FunctionLogs]:
        """Every function with a log file (current or rotated)."""
        names: set[str] = set()
        with contextlib.suppress(OSError):
            names = {path.name.split(".log", 1)[0] for path in self.logs_dir.iterdir() if ".log" in path.name}
        found = []
        for function in sorted(name for name in names if _SAFE_NAME.fullmatch(name)):
            stats = []
            for path in self.files(function):
                with contextlib.suppress(OSError):
                    stats.append(path.stat())
            if stats:
                found.append(FunctionLogs(function, int(min(s.st_ctime for s in stats) * 1000),
                                          sum(s.st_size for s in stats)))
        return found

    def delete_files(self, function: str) -> None:
        for path in self.files(function):
            path.unlink(missing_ok=True)
            index_path(path).unlink(missing_ok=True)

    def expire(self, function: str, retention_days: int, now_ms: int) -> int:
        """Delete rotated files (and indexes) last written before the retention; the current file's old
        events are hidden by readers (`since_ms`). Returns how many files went."""
        current = self.path(function)
        if current is None:
            return 0
        cutoff_s = retention_cutoff_ms(retention_days, now_ms) / 1000
        removed = 0
        for path in rotated_paths(current, self.keep):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff_s:
                    path.unlink()
                    index_path(path).unlink(missing_ok=True)
                    removed += 1
        return removed


def _pieces(chunk: LogChunk, size: int, max_bytes: int) -> list[tuple[bytes, list[tuple[int, int, str]]]]:
    """The chunk cut at its writes' boundaries so that each piece fills the current file up to about
    `max_bytes` (then it rotates), as if it had been flushed write by write."""
    pieces: list[tuple[bytes, list[tuple[int, int, str]]]] = []
    starts = [at for at, _ms, _stream in chunk.marks] or [0]
    cuts = [0] if starts[0] else []
    room = max_bytes - size
    for i, at in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(chunk.data)
        if not cuts:
            cuts.append(at)
        room -= end - at
        if room <= 0 and end < len(chunk.data):
            cuts.append(end)
            room = max_bytes
    bounds = [*cuts, len(chunk.data)]
    for begin, end in zip(bounds, bounds[1:], strict=False):
        marks = [(at - begin, ms, stream) for at, ms, stream in chunk.marks if begin <= at < end]
        pieces.append((bytes(chunk.data[begin:end]), marks))
    return pieces


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _index(path: Path) -> list[tuple[int, int, str]]:
    entries = []
    with contextlib.suppress(OSError), open(index_path(path), "rb") as file:
        for raw in file:
            parts = raw.decode("utf-8", "replace").rstrip("\n").split(" ", 2)
            if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
                entries.append((int(parts[0]), int(parts[1]), parts[2]))
    return entries


def _file_writes(path: Path) -> list[LogWrite]:
    """One log file's writes, as its index cuts it (text before the first indexed write has no stream)."""
    try:
        data = path.read_bytes()
        inode = os.stat(path).st_ino
    except OSError:
        return []
    index = _index(path)
    writes = []
    for i, (offset, time_ms, stream) in enumerate(index):
        end = index[i + 1][0] if i + 1 < len(index) else len(data)
        writes.append(LogWrite(stream, time_ms, data[offset:min(end, len(data))], inode, offset))
    return writes


async def tail(files: LogFiles, function: str, follow: bool) -> AsyncIterator[bytes]:
    """The function's text, rotated files first; with `follow`, new text as it is written, across rotations."""
    path = files.path(function)
    if path is None:
        return
    for old in reversed(rotated_paths(path, files.keep)):
        with contextlib.suppress(OSError), open(old, "rb") as file:
            while chunk := file.read(65536):
                yield printable(chunk)
    while True:
        try:
            file = open(path, "rb")  # noqa: SIM115 (held across the follow's sleeps)
        except OSError:
            return
        with file:
            while True:
                while chunk := file.read(65536):
                    yield printable(chunk)
                if not follow:
                    return
                if _rotated(file, path):
                    while chunk := file.read(65536):  # what the server wrote before it rotated
                        yield printable(chunk)
                    break
                await asyncio.sleep(FOLLOW_POLL_S)


def _rotated(file: BinaryIO, path: Path) -> bool:
    """Whether `path` is now another file than the one open (the server rotated the log)."""
    try:
        return os.stat(path).st_ino != os.fstat(file.fileno()).st_ino
    except OSError:
        return False


class FunctionLogsStore:
    """The protocol's function logs on LogFiles (SqliteStore makes `log_files` from the settings)."""

    log_files: LogFiles

    async def append_function_logs(self, chunks: Sequence[LogChunk]) -> None:
        for chunk in chunks:
            self.log_files.append(chunk)

    async def read_function_logs(self, function: str, *, since_ms: int = 0) -> list[LogWrite]:
        writes = await asyncio.to_thread(self.log_files.read, function)
        return [write for write in writes if write.time_ms >= since_ms] if since_ms else writes

    async def list_function_logs(self) -> list[FunctionLogs]:
        return await asyncio.to_thread(self.log_files.functions)

    async def delete_function_logs(self, function: str) -> None:
        self.log_files.close_one(function)  # this process's open files (a next write starts new ones)
        await asyncio.to_thread(self.log_files.delete_files, function)

    async def expire_function_logs(self, function: str, retention_days: int, now_ms: int) -> None:
        await asyncio.to_thread(self.log_files.expire, function, retention_days, now_ms)

    def tail_function_logs(self, function: str, *, follow: bool) -> AsyncIterator[bytes]:
        return tail(self.log_files, function, follow)


def log_files(settings: Settings) -> LogFiles:
    return LogFiles(settings.logs_dir, settings.log_max_bytes, settings.log_keep_files)
