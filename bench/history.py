"""The event browser with 100,000 finished events in the store: how long its first page and a request-id
lookup take (a figure to read, not a test). Events go through the store protocol as the dispatcher's
would (accept, lease, finish with an attempt row and an outcome), one in ten failed.

    .venv/bin/python -m bench.history [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from lambdalite.clock import now_ms
from lambdalite.model.history import AttemptRecord, EventQuery, Result, Status
from lambdalite.model.outcome import Condition
from lambdalite.model.queue import AttemptEnd
from lambdalite.settings import Settings
from lambdalite.store import open_store
from lambdalite.store.protocol import Store
from tests.support.records import create_function, outcome, queued_event

BATCH = 1000
REPEAT = 50


async def fill(store: Store, events: int) -> list[str]:
    await create_function(store, "bench")
    await create_function(store, "other")
    await create_function(store, "rare")
    ids: list[str] = []
    for start in range(0, events, BATCH):
        batch = [queued_event(_function_of(start + i)) for i in range(min(BATCH, events - start))]
        await asyncio.gather(*(store.accept_event(e, b'{"order": 1}') for e in batch))
        leased = await store.lease_events(len(batch), 60_000)
        by_id = {e.request_id: e for e in batch}
        ends = []
        for one in leased:
            event = by_id[one.message.id]
            failed = int(event.request_id[:2], 16) % 10 == 0
            condition = Condition.RETRIES_EXHAUSTED if failed else Condition.SUCCESS
            at = now_ms()
            record = AttemptRecord(event.request_id, event.function, 0, 1, at - 3, at,
                                   Result.FUNCTION_ERROR if failed else Result.SUCCESS, condition=condition.value)
            claim = one.claim if isinstance(one.claim, int) else None
            ends.append(store.finish_attempt(one.message, AttemptEnd(claim, outcome=outcome(event, condition),
                                                                     record=record)))
        await asyncio.gather(*ends)
        ids.extend(by_id)
    return ids


def _function_of(n: int) -> str:
    """Half the events are bench's, half other's, but one in a thousand is rare's (a filter that selects little)."""
    if n % 1000 == 0:
        return "rare"
    return "bench" if n % 2 else "other"


async def timed_ms(call: object) -> float:
    started = time.perf_counter()
    await call  # type: ignore[misc]
    return (time.perf_counter() - started) * 1000


async def main(events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings(data_dir=Path(tmp)))
        started = time.perf_counter()
        ids = await fill(store, events)
        print(f"filled {events:,} finished events in {time.perf_counter() - started:.1f} s")
        at = now_ms()
        cases = {
            "first page, no filter": EventQuery(),
            "first page, one function": EventQuery(function="bench"),
            "first page, failed": EventQuery(status=Status.FAILED),
            "first page, failed of one function": EventQuery(function="bench", status=Status.FAILED),
            "first page, a rare function": EventQuery(function="rare"),
            "first page, failed of a rare function": EventQuery(function="rare", status=Status.FAILED),
            "request-id lookup (browser filter)": EventQuery(request_id=ids[len(ids) // 2]),
        }
        for name, query in cases.items():
            times = [await timed_ms(store.list_events(query, at)) for _ in range(REPEAT)]
            print(f"{name:40s} median {statistics.median(times):7.2f} ms  max {max(times):7.2f} ms")
        times = [await timed_ms(store.get_event(ids[i * 997 % len(ids)], at)) for i in range(REPEAT)]
        print(f"{'event page (get_event)':40s} median {statistics.median(times):7.2f} ms  max {max(times):7.2f} ms")
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().events))
