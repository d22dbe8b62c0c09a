"""Where handlers record that they ran: one fixed-width line appended per event to a file.

Every system under test runs the same handler body: note the start time, append one line
(`sent start end id`) with a single O_APPEND write, return the event. One small write per event costs a few
microseconds and no extra process, so it measures without distorting; fixed-width lines let the harness
count completions from the file size alone while polling.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

LINE_FORMAT = b"%018.6f %018.6f %018.6f %010d\n"
LINE_BYTES = 18 * 3 + 10 + 3 + 1
PAD = "x" * 52

# The handler inside the lambdalite function's zip: the same body as `record` below, standalone.
LAMBDA_HANDLER_SOURCE = '''\
import os
import time

_FD = os.open(os.environ["BENCH_SINK"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def handler(event, context):
    start = time.time()
    os.write(_FD, b"%018.6f %018.6f %018.6f %010d\\n" % (event.get("t", 0.0), start, time.time(), event.get("id", 0)))
    return event
'''


def event(event_id: int, sent_s: float) -> dict[str, object]:
    """The ~100-byte JSON event every system receives."""
    return {"id": event_id, "t": sent_s, "pad": PAD}


def event_bytes(event_id: int, sent_s: float) -> bytes:
    return b'{"id":%d,"t":%.6f,"pad":"%s"}' % (event_id, sent_s, PAD.encode())


_fd: int | None = None


def record(evt: dict[str, object]) -> dict[str, object]:
    """The peers' handler body (Celery task, Dramatiq actor)."""
    global _fd
    start = time.time()
    if _fd is None:
        _fd = os.open(os.environ["BENCH_SINK"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sent = evt.get("t", 0.0)
    event_id = evt.get("id", 0)
    os.write(_fd, LINE_FORMAT % (sent, start, time.time(), event_id))
    return evt


@dataclass
class Record:
    sent_s: float
    start_s: float
    end_s: float
    event_id: int


class Sink:
    """One sink file; `mark()` remembers where a workload begins so earlier lines are ignored."""

    def __init__(self, path: Path):
        self.path = path
        path.touch()
        self.offset_bytes = 0

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def mark(self) -> None:
        self.offset_bytes = self.size()

    def count(self) -> int:
        """Lines written since mark() (complete lines only)."""
        return (self.size() - self.offset_bytes) // LINE_BYTES

    def records(self) -> list[Record]:
        with open(self.path, "rb") as f:
            f.seek(self.offset_bytes)
            data = f.read()
        out = []
        for line in data.splitlines():
            parts = line.split()
            if len(parts) == 4:
                out.append(Record(float(parts[0]), float(parts[1]), float(parts[2]), int(parts[3])))
        return out

    def wait_for(self, expected: int, deadline_s: float, stall_s: float) -> int:
        """Poll until `expected` lines are there, the deadline passes, or nothing new came for stall_s."""
        last_count, last_change = -1, time.monotonic()
        end = time.monotonic() + deadline_s
        while True:
            n = self.count()
            now = time.monotonic()
            if n >= expected or now > end:
                return n
            if n != last_count:
                last_count, last_change = n, now
            elif now - last_change > stall_s:
                return n
            time.sleep(0.02)
