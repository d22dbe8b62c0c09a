"""Small asyncio helpers shared by the loops that wait for work.

Why not `asyncio.wait_for`: on Python 3.11 it wraps the awaitable in a new Task (a cost on every wait
of a busy loop) and can swallow a cancellation that arrives as the awaited thing completes, which left a
`worker` running after SIGTERM. `asyncio.timeout` creates no task and keeps cancellations.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set, at most timeout_s; True if it was set."""
    if event.is_set():
        return True
    if timeout_s <= 0:
        return False
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
