"""Function logs as every backend stores them: writes (bytes of one stream at one time), read back as
CloudWatch Logs events.

The runtime hands the store a `LogChunk` per function per flush (its writes back to back); the store
gives back `LogWrite`s in the order they were stored. An event is one line of one stream: the write that
began it gives its time. Lambda's runtimes join a multi-line record (an uncaught error's traceback) with
`\\r`: such a line is one event whose message has its lines back (`\\n`); every message ends with `\\n`,
as Lambda's do. A line still without its newline is not an event yet. Event ids sort like the events:
time, then where the write was stored (`origin`, `offset`: a file's inode and byte offset, or a row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class LogChunk:
    """One function's writes since the last flush: their bytes back to back, and where each began."""

    function: str
    data: bytearray = field(default_factory=bytearray)
    marks: list[tuple[int, int, str]] = field(default_factory=list)  # (offset in data, time_ms, stream)

    def writes(self) -> list[tuple[str, int, bytes]]:
        """(stream, time_ms, bytes) of each write; bytes before the first mark belong to no stream."""
        out = []
        for i, (at, time_ms, stream) in enumerate(self.marks):
            end = self.marks[i + 1][0] if i + 1 < len(self.marks) else len(self.data)
            out.append((stream, time_ms, bytes(self.data[at:end])))
        return out


class LogSink(Protocol):
    """Where the runtime's LogBook flushes (the store)."""

    async def append_function_logs(self, chunks: Sequence[LogChunk]) -> None: ...


@dataclass(frozen=True, slots=True)
class LogWrite:
    stream: str
    time_ms: int
    data: bytes
    origin: int  # where it is stored: a file's inode, or a row id
    offset: int  # its first byte's offset in that file (0 for a row)


@dataclass(frozen=True, slots=True)
class FunctionLogs:
    """A function that has logs: its CloudWatch group's creation time and bytes stored."""

    function: str
    created_ms: int
    stored_bytes: int


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


def events_from_writes(writes: Iterable[LogWrite], *, since_ms: int = 0) -> list[LogEvent]:
    """Every complete line of every stream as an event (at or after `since_ms`), ordered by event id."""
    pending: dict[str, tuple[int, int, int, bytearray]] = {}  # stream -> (time, origin, offset, unfinished)
    events: list[LogEvent] = []
    for write in writes:
        start_ms, origin, start, line = pending.pop(write.stream, (write.time_ms, write.origin, write.offset,
                                                                   bytearray()))
        chunk, position = write.data, write.offset
        while chunk:
            cut = chunk.find(b"\n")
            if cut < 0:
                line += chunk
                pending[write.stream] = (start_ms, origin, start, line)
                break
            line += chunk[:cut]
            if start_ms >= since_ms:
                message = line.decode("utf-8", "replace").replace("\r", "\n") + "\n"  # as Lambda's events end
                events.append(LogEvent(write.stream, start_ms, max(start_ms, write.time_ms), message,
                                       f"{start_ms:016d}{origin % 10**12:012d}{start:012d}"))
            position += cut + 1
            chunk = chunk[cut + 1:]
            start_ms, origin, start, line = write.time_ms, write.origin, position, bytearray()
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


def printable(data: bytes) -> bytes:
    """Stored text as `lambdalite logs` prints it: a runtime's multi-line record (lines joined by `\\r`, as
    Lambda's runtimes write an uncaught error) shown on its lines, as CloudWatch shows it."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def retention_cutoff_ms(retention_days: int, now_ms: int) -> int:
    return now_ms - retention_days * 86_400_000
