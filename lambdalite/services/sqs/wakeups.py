"""Per-queue arrival notifications so a long poll returns the moment a message lands in this process.

Sends from other processes (a `worker` delivering to a queue) are seen by the long poll's short fallback
poll instead. A waiter takes the current event *before* it checks the queue, so no arrival is missed.
"""

from __future__ import annotations

import asyncio
import contextlib

from lambdalite.aio import wait_event

_events: dict[str, asyncio.Event] = {}
_loop: asyncio.AbstractEventLoop | None = None


def current(queue: str) -> asyncio.Event:
    """The event the next arrival on `queue` sets (call before checking the queue)."""
    global _loop
    _loop = asyncio.get_running_loop()
    event = _events.get(queue)
    if event is None:
        event = _events[queue] = asyncio.Event()
    return event


def notify(queue: str) -> None:
    """Wake every long poll waiting on `queue`; safe from any thread."""
    loop = _loop
    if loop is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _fire(queue)
    else:
        with contextlib.suppress(RuntimeError):  # loop closed at shutdown
            loop.call_soon_threadsafe(_fire, queue)


def _fire(queue: str) -> None:
    event = _events.pop(queue, None)
    if event is not None:
        event.set()


async def wait(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait for an arrival at most timeout_s; True if one came."""
    return await wait_event(event, timeout_s)
