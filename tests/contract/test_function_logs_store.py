"""Function logs (Store protocol): what one process appends, every process reads back in order, as
events and as `lambdalite logs` text; each function's stored text is bounded, oldest dropped first;
retention and deletion; following a function's text while another process writes; and the runtime's
LogBook batching into the store."""

from __future__ import annotations

import asyncio
import time

from lambdalite.model.function_log import LogChunk, LogWrite, events_from_writes, streams
from lambdalite.runtime.logs import LogBook
from lambdalite.store.protocol import Store
from tests.support.backends import Backend


def chunk(function: str, *writes: tuple[str, bytes], time_ms: int = 0) -> LogChunk:
    """One flush of one function: `writes` as (stream, bytes), a millisecond apart from `time_ms` (now when
    0): events of one millisecond in two rotated files have no order."""
    at_ms = time_ms or int(time.time() * 1000)
    out = LogChunk(function)
    for i, (stream, data) in enumerate(writes):
        out.marks.append((len(out.data), at_ms + i, stream))
        out.data += data
    return out


async def text(store: Store, function: str) -> bytes:
    return b"".join([part async for part in store.tail_function_logs(function, follow=False)])


def messages(writes: list[LogWrite], stream: str | None = None) -> list[str]:
    return [e.message for e in events_from_writes(writes) if stream is None or e.stream == stream]


async def test_writes_come_back_in_order_as_events_and_text(backend: Backend) -> None:
    api, worker = backend.open(), backend.open()
    await worker.append_function_logs([
        chunk("f", ("s1", b"START RequestId: a Version: $LATEST\n"), ("s1", b"half "),
              ("s2", b"START RequestId: b Version: $LATEST\n")),
        chunk("g", ("s3", b"other function\n")),
    ])
    await api.append_function_logs([chunk("f", ("s1", b"line\n[ERROR] E: x\rTraceback (most recent call last):\n"),
                                          ("s2", b"unfinished"))])
    writes = await api.read_function_logs("f")
    assert [w.stream for w in writes] == ["s1", "s1", "s2", "s1", "s2"]
    assert messages(writes, "s1") == ["START RequestId: a Version: $LATEST\n", "half line\n",
                                      "[ERROR] E: x\nTraceback (most recent call last):\n"]
    assert messages(writes, "s2") == ["START RequestId: b Version: $LATEST\n"]  # a line without its newline waits
    events = events_from_writes(writes)
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert {s.name for s in streams(events)} == {"s1", "s2"}
    assert await text(worker, "f") == (b"START RequestId: a Version: $LATEST\nhalf START RequestId: b Version: "
                                       b"$LATEST\nline\n[ERROR] E: x\nTraceback (most recent call last):\nunfinished")
    listed = {logs.function: logs for logs in await worker.list_function_logs()}
    assert sorted(listed) == ["f", "g"] and listed["g"].stored_bytes == len(b"other function\n")
    assert listed["f"].created_ms > 0 and listed["f"].stored_bytes > listed["g"].stored_bytes


async def test_reads_from_a_time(store: Store) -> None:
    await store.append_function_logs([chunk("f", ("s", b"old\n"), time_ms=1_000)])
    await store.append_function_logs([chunk("f", ("s", b"new\n"), time_ms=5_000)])
    assert messages(await store.read_function_logs("f", since_ms=2_000)) == ["new\n"]
    assert messages(await store.read_function_logs("f")) == ["old\n", "new\n"]
    assert await store.read_function_logs("missing") == []


async def test_each_function_keeps_a_bounded_amount_newest_last(backend: Backend) -> None:
    store = backend.open(log_max_bytes=256, log_keep_files=2)
    for n in range(40):  # 40 x 50 bytes, in flushes of one and of several writes
        writes = [("s", f"line {n:02d}.{i} {'x' * 40}\n".encode()) for i in range(1 + n % 3)]
        await store.append_function_logs([chunk("f", *writes, time_ms=1_000 + 10 * n)])
    kept = [m.split()[1] for m in messages(await store.read_function_logs("f"))]
    assert kept == sorted(kept) and kept[-1] == "39.0" and not kept[0].startswith("00.")
    (logs,) = await store.list_function_logs()
    assert logs.stored_bytes <= 3 * 256 + 3 * 50


async def test_one_large_flush_is_bounded_too(backend: Backend) -> None:
    store = backend.open(log_max_bytes=256, log_keep_files=1)
    await store.append_function_logs([chunk("f", *[("s", f"{n:03d} {'y' * 45}\n".encode()) for n in range(60)])])
    kept = [m.split()[0] for m in messages(await store.read_function_logs("f"))]
    assert kept[-1] == "059" and kept == sorted(kept) and len(kept) < 60
    (logs,) = await store.list_function_logs()
    assert logs.stored_bytes <= 2 * 256 + 50


async def test_retention_and_delete(backend: Backend) -> None:
    store = backend.open(log_max_bytes=128, log_keep_files=2)
    for n in range(8):
        await store.append_function_logs([chunk("f", ("s", f"line {n} {'z' * 40}\n".encode()))])
    await store.append_function_logs([chunk("g", ("s", b"kept\n"))])
    before = {logs.function: logs.stored_bytes for logs in await store.list_function_logs()}
    later_ms = int(time.time() * 1000) + 3 * 86_400_000
    await store.expire_function_logs("f", 1, later_ms)
    after = {logs.function: logs.stored_bytes for logs in await store.list_function_logs()}
    assert after["f"] < before["f"] and after["g"] == before["g"]
    assert await store.read_function_logs("f", since_ms=later_ms - 86_400_000) == []
    await store.delete_function_logs("f")
    assert [logs.function for logs in await store.list_function_logs()] == ["g"]
    assert await store.read_function_logs("f") == [] and await text(store, "f") == b""


async def test_follow_sees_another_process_writes(backend: Backend) -> None:
    reader, writer = backend.open(), backend.open()
    await writer.append_function_logs([chunk("f", ("s", b"first\n"))])
    follow = reader.tail_function_logs("f", follow=True)
    seen = bytearray()
    try:
        while b"first\n" not in seen:
            seen += await asyncio.wait_for(anext(follow), 10)
        await writer.append_function_logs([chunk("f", ("s", b"second\n"))])
        while b"second\n" not in seen:
            seen += await asyncio.wait_for(anext(follow), 10)
    finally:
        await follow.aclose()  # type: ignore[attr-defined]
    assert bytes(seen) == b"first\nsecond\n"


async def test_logbook_batches_writes_into_the_store_in_order(backend: Backend) -> None:
    store = backend.open()
    book = LogBook(store)
    for n in range(50):
        book.write("f", f"{n}\n".encode(), f"stream-{n % 2}")
        book.write("g", f"g{n}\n".encode(), "g")
        if n % 10 == 0:
            book.flush()  # flushes overlapping the store's previous one keep their order
            await asyncio.sleep(0)
    book.forget("g")
    await book.close()
    assert [m.strip() for m in messages(await store.read_function_logs("f"))] == [str(n) for n in range(50)]
    assert await text(store, "f") == b"".join(f"{n}\n".encode() for n in range(50))
    assert len(messages(await store.read_function_logs("g"))) < 50  # the lines still buffered were dropped
