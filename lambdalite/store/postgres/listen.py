"""Wake-ups across nodes: one LISTEN connection per process turns other nodes' NOTIFYs (sent in the
transactions that commit work: accepts, jobs, SQS sends) into this process's `Wakeups`, and 'config'
notifications into a dropped configuration cache. If the connection breaks it reconnects (with backoff);
meanwhile the waiting loops' slow fallback polls and the cache's generation poll keep things moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from lambdalite.store.postgres.db import CONNECT_TIMEOUT_S, UNREACHABLE, describe
from lambdalite.store.postgres.queues import CHANNEL
from lambdalite.wakeups import EVENTS, JOBS, Wakeups

log = logging.getLogger(__name__)
CONFIG_TOPIC = "config"
_RETRY_MAX_S = 5.0


class Listener:
    def __init__(self, url: str, wakeups: Wakeups, config_changed: Callable[[], None]):
        self.url = url
        self.wakeups = wakeups
        self.config_changed = config_changed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pg-listen")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == CONFIG_TOPIC:
            self.config_changed()
        else:
            self.wakeups.notify(payload)

    async def _run(self) -> None:
        delay_s = 0.1
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
            except UNREACHABLE as exc:
                log.warning("cannot listen for other nodes' wake-ups (%s); retrying", describe(exc))
                await asyncio.sleep(delay_s)
                delay_s = min(_RETRY_MAX_S, delay_s * 2)
                continue
            try:
                conn.add_termination_listener(_setter(lost))
                await conn.add_listener(CHANNEL, self._on_notify)
                delay_s = 0.1
                self._caught_up()
                await _until_lost(conn, lost)
            except UNREACHABLE as exc:
                log.warning("lost the wake-up connection (%s); reconnecting", describe(exc))
            finally:
                with contextlib.suppress(Exception):
                    conn.terminate()

    def _caught_up(self) -> None:
        """Anything may have happened while not listening: look again."""
        self.config_changed()
        self.wakeups.notify(EVENTS)
        self.wakeups.notify(JOBS)


async def _until_lost(conn: asyncpg.Connection, lost: asyncio.Event, check_s: float = 5.0) -> None:
    """Return when the connection is gone (a dead TCP peer is noticed by a periodic trivial query)."""
    while not conn.is_closed():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lost.wait(), timeout=check_s)
        if lost.is_set():
            return
        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=check_s)


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _conn: event.set()
