"""The one wake-up mechanism of a process: named topics that waiting loops listen to.

Topics: `EVENTS` (a new async event: dispatchers), `JOBS` (a new delivery job: the job loop),
`sqs_topic(arn)` (a message arrived: long polls, mapping pollers) and `MAPPINGS` (an event source mapping
changed: the pollers' supervisor). A notification reaches only this process; wake-ups
across processes are the store backend's business (SQLite: the waiting loops' fallback polls).

Two ways to wait: a loop registers a callback once (`listen`); a one-off waiter (a long poll) takes the
topic's `arrival()` event *before* it looks for work, so an arrival in between is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

EVENTS = "events"
JOBS = "jobs"
MAPPINGS = "mappings"
SCHEDULES = "schedules"  # a scheduled rule was put, enabled, disabled or deleted: the schedule poller


def sqs_topic(queue_arn: str) -> str:
    return f"sqs:{queue_arn}"


class Wakeups:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._arrivals: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self, topic: str, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) at every notification of `topic`."""
        self._listeners.setdefault(topic, []).append(callback)

    def arrival(self, topic: str) -> asyncio.Event:
        """The event the next notification of `topic` sets (take it before checking for work)."""
        self._loop = asyncio.get_running_loop()
        event = self._arrivals.get(topic)
        if event is None:
            event = self._arrivals[topic] = asyncio.Event()
        return event

    def notify(self, topic: str) -> None:
        """Wake whoever waits on `topic`; safe from any thread."""
        loop = self._loop
        if loop is not None and not _running(loop):
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                loop.call_soon_threadsafe(self._fire, topic)
            return
        self._fire(topic)

    def _fire(self, topic: str) -> None:
        for callback in self._listeners.get(topic, ()):
            callback()
        event = self._arrivals.pop(topic, None)
        if event is not None:
            event.set()


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
