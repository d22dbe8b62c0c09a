"""Function logs read back as CloudWatch Logs events (what services/logs serves).

A function's log (NAME.log, rotated NAME.log.1..N) holds its text; NAME.idx holds one `offset time_ms
stream` line per write (runtime/logs.LogBook). An event is one line of one stream: the write that began
it gives its time. Lambda's runtimes join a multi-line record (an uncaught error's traceback) with `\\r`:
such a line is one event whose message has its lines back (`\\n`); every message ends with `\\n`, as
Lambda's do. A line still without its newline is not an event yet. Event ids sort like the events:
time, then the file and offset they came from.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from lambdalite.runtime.logs import index_path, rotated_paths


@dataclass(frozen=True, slots=True)
class LogEvent:
    stream: str
    timestamp_ms: int
    ingestion_ms: int
    message: str
    event_id: str


@dataclass(frozen=True, slots=True)
class StreamInfo:
    name: str
    first_ms: int
    last_ms: int
    stored_bytes: int


def function_files(logs_dir: Path, function: str, keep: int) -> list[Path]:
    """The function's log files, oldest first, that exist."""
    current = logs_dir / f"{function}.log"
    return [p for p in (*reversed(rotated_paths(current, keep)), current) if p.exists()]


def functions_with_logs(logs_dir: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return sorted(p.name[:-4] for p in logs_dir.iterdir() if p.name.endswith(".log"))
    return []


def _index(path: Path) -> list[tuple[int, int, str]]:
    entries = []
    with contextlib.suppress(OSError), open(index_path(path), "rb") as file:
        for raw in file:
            parts = raw.decode("utf-8", "replace").rstrip("\n").split(" ", 2)
            if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
                entries.append((int(parts[0]), int(parts[1]), parts[2]))
    return entries


def read_file_events(path: Path) -> list[LogEvent]:
    """The events of one log file (with its index)."""
    try:
        data = path.read_bytes()
        ingested_ms = int(os.stat(path).st_mtime * 1000)
        inode = os.stat(path).st_ino % 10**12
    except OSError:
        return []
    index = _index(path)
    pending: dict[str, tuple[int, int, bytearray]] = {}  # stream -> (time, offset, unfinished line)
    events: list[LogEvent] = []
    for i, (offset, at_ms, stream) in enumerate(index):
        end = index[i + 1][0] if i + 1 < len(index) else len(data)
        chunk = data[offset:min(end, len(data))]
        start_ms, start_offset, line = pending.pop(stream, (at_ms, offset, bytearray()))
        position = offset
        while chunk:
            cut = chunk.find(b"\n")
            if cut < 0:
                line += chunk
                pending[stream] = (start_ms, start_offset, line)
                break
            line += chunk[:cut]
            message = line.decode("utf-8", "replace").replace("\r", "\n") + "\n"  # as Lambda's events end
            events.append(LogEvent(stream, start_ms, max(start_ms, min(ingested_ms, at_ms)), message,
                                   f"{start_ms:016d}{inode:012d}{start_offset:012d}"))
            position += cut + 1
            chunk = chunk[cut + 1:]
            start_ms, start_offset, line = at_ms, position, bytearray()
    return events


def read_events(logs_dir: Path, function: str, keep: int, *, since_ms: int = 0) -> list[LogEvent]:
    """Every complete event of the function since `since_ms` (retention), ordered by event id."""
    events = [event for path in function_files(logs_dir, function, keep) for event in read_file_events(path)
              if event.timestamp_ms >= since_ms]
    events.sort(key=lambda event: event.event_id)
    return events


def streams(events: list[LogEvent]) -> list[StreamInfo]:
    found: dict[str, StreamInfo] = {}
    for event in events:
        seen = found.get(event.stream)
        size = len(event.message.encode())
        if seen is None:
            found[event.stream] = StreamInfo(event.stream, event.timestamp_ms, event.timestamp_ms, size)
        else:
            found[event.stream] = StreamInfo(event.stream, min(seen.first_ms, event.timestamp_ms),
                                             max(seen.last_ms, event.timestamp_ms), seen.stored_bytes + size)
    return list(found.values())


def enforce_retention(logs_dir: Path, function: str, keep: int, retention_days: int, now_s: float | None = None) -> int:
    """Delete rotated log files (and their indexes) whose last write is older than the retention; the
    current file's old events are hidden by readers (`since_ms`). Returns how many files went."""
    cutoff_s = (time.time() if now_s is None else now_s) - retention_days * 86400
    removed = 0
    for path in rotated_paths(logs_dir / f"{function}.log", keep):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff_s:
                path.unlink()
                index_path(path).unlink(missing_ok=True)
                removed += 1
    return removed
