"""Function logs: AWS's START/END/REPORT lines, stream names, and the LogBook that buffers what
environments write and hands it to the store (files in the data folder, or the shared database)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid

from lambdalite.model.function_log import LogChunk, LogSink

log = logging.getLogger(__name__)

FLUSH_DELAY_S = 0.2
BUFFER_BYTES = 256 * 1024
TAIL_BYTES = 4096
CLOSE_WAIT_S = 5.0
MAX_PENDING_BYTES = 64 << 20  # a function's, while the store does not take flushes; past it, they are dropped


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


class LogBook:
    """Buffered appends of each function's log text, handed to the store in one batch FLUSH_DELAY_S after
    the first unflushed write (or at once past BUFFER_BYTES): never a write per line on the hot path. A
    function's first text in this process goes at once, so its log group exists when its first
    invocation answers, as when the LogBook created the function's file on its first write.

    One flush at a time: the next waits for the store to take the previous, so a function's text keeps
    its order. A store that cannot take a flush (a full disk, an unreachable database) loses those
    lines, never the invocation."""

    def __init__(self, sink: LogSink):
        self.sink = sink
        self._pending: dict[str, LogChunk] = {}
        self._stored: set[str] = set()  # functions this process has flushed text of
        self._flush_handle: asyncio.Handle | None = None
        self._flushing: asyncio.Task[None] | None = None

    def write(self, function: str, data: bytes, stream: str = "") -> None:
        chunk = self._pending.get(function)
        if chunk is None:
            chunk = self._pending[function] = LogChunk(function)
            if function not in self._stored:  # its first text goes at once: its log group appears
                self._stored.add(function)
                self._flush_soon()
        if stream:
            chunk.marks.append((len(chunk.data), time.time_ns() // 1_000_000, stream))
        chunk.data += data
        if len(chunk.data) >= BUFFER_BYTES:
            if len(chunk.data) >= MAX_PENDING_BYTES:
                log.warning("function logs of %s lost: the store has not taken them for a while", function)
                del self._pending[function]
            self.flush()
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_DELAY_S, self.flush)

    def _flush_soon(self) -> None:
        """Flush on the event loop's next turn (after this write lands in the buffer)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Hand what is pending to the store (in a task: the store may wait on the network)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            return
        if self._flushing is not None:  # the previous flush is still with the store: this one follows it
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_DELAY_S, self.flush)
            return
        chunks = list(self._pending.values())
        self._pending = {}
        self._flushing = asyncio.get_running_loop().create_task(self._hand_over(chunks))

    async def _hand_over(self, chunks: list[LogChunk]) -> None:
        try:
            await self.sink.append_function_logs(chunks)
        except Exception:  # whatever the store's failure, the invocations go on
            log.warning("function logs lost: the store did not take them", exc_info=True)
        finally:
            self._flushing = None

    async def drain(self) -> None:
        """Flush now and wait until the store has everything written so far."""
        while self._pending or self._flushing is not None:
            if self._flushing is not None:
                await asyncio.shield(self._flushing)
            else:
                self.flush()

    def forget(self, function: str) -> None:
        """Drop a function's unwritten lines (its log group was deleted)."""
        self._pending.pop(function, None)
        self._stored.discard(function)

    async def close(self) -> None:
        """Drain, for at most CLOSE_WAIT_S (a store that cannot be reached loses the rest)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), CLOSE_WAIT_S)
