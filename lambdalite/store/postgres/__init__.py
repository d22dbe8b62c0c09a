"""The PostgreSQL backend: many `serve` and `worker` nodes on many machines share one database.

Layout (mirrors sqlite/): one module per domain with its mixin (functions, event_configs, event_queue +
slots + accept, outcomes, sqs, buses, shared), the schema as numbered SQL files in migrations/ applied
on start (migrate.py), one connection pool per process (db.py), LISTEN/NOTIFY wake-ups (listen.py).
Adding a domain: a module with its mixin class (added to PostgresStore's bases) and the next numbered
migration file.

The configuration cache: a change to any configuration table bumps `config_generation` (triggers) and
NOTIFYs 'config'; this process drops its cache at once for its own changes, on the notification for
another node's, and in any case re-reads the counter at least every GENERATION_MAX_AGE_S.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, TypeVar, cast

from lambdalite.model.event_config import EventConfig
from lambdalite.model.queue import Message
from lambdalite.settings import Settings
from lambdalite.store.errors import StoreUnavailable
from lambdalite.store.postgres import (
    buses,
    event_configs,
    event_queue,
    function_logs,
    functions,
    history,
    layers,
    log_groups,
    move_tasks,
    outcomes,
    permissions,
    s3,
    s3_bodies,
    schedules,
    shared,
    sns,
    sqs,
    tags,
)
from lambdalite.store.postgres import event_source_mappings as esm_store
from lambdalite.store.postgres.accept import accept_batcher
from lambdalite.store.postgres.db import Conn, PgDatabase
from lambdalite.store.postgres.listen import Listener

if TYPE_CHECKING:
    from lambdalite.model.queue import Claim
    from lambdalite.wakeups import Wakeups

T = TypeVar("T")
_CACHE_LIMIT = 4096
# Bound on how long another node's configuration change may stay unseen if its NOTIFY is lost.
GENERATION_MAX_AGE_S = 1.0

__all__ = ["PostgresStore", "StoreUnavailable"]


class PostgresStore(
    functions.FunctionsStore,
    event_configs.EventConfigsStore,
    event_queue.EventQueueStore,
    outcomes.OutcomesStore,
    history.HistoryStore,
    sqs.SqsStore,
    move_tasks.MoveTasksStore,
    buses.BusesStore,
    s3.S3Store,
    s3_bodies.S3BodiesStore,
    schedules.SchedulesStore,
    shared.SharedStore,
    esm_store.EventSourceMappingsStore,
    sns.SnsStore,
    tags.TagsStore,
    permissions.PermissionsStore,
    layers.LayersStore,
    log_groups.LogGroupsStore,
    function_logs.FunctionLogsStore,
):
    """The Store protocol on one PostgreSQL database: each domain's operations live in its own module."""

    def __init__(self, settings: Settings, *, read_only: bool = False):
        self.settings = settings
        self.db = PgDatabase(settings.store, read_only=read_only)
        self.holder = uuid.uuid4().hex
        self._held_slots: set[int] = set()
        self._accepts = accept_batcher(self.db, self._claim_accepted)
        self._finishes = event_queue.finish_batcher(self.db)
        self._cache: dict[Hashable, object] = {}
        self._epoch = 0  # moves whenever the cache is dropped
        self._generation = (-1, float("-inf"))  # (config_generation seen, time.monotonic() it was read)
        self._refreshing: asyncio.Future[None] | None = None
        self._listener: Listener | None = None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        self.db.close()

    async def attach(self, wakeups: Wakeups) -> None:
        """Connect (StoreUnavailable if the database cannot be reached), migrate, move S3 bodies an earlier
        version left in the data folder into the database, and start turning other nodes' notifications
        into this process's wake-ups."""
        await self.db.pool()
        if not self.db.read_only:
            await self.adopt_local_bodies()
        if self._listener is None:
            self._listener = Listener(self.settings.store, wakeups, self.config_changed)
            self._listener.start()

    async def _claim_accepted(self, conn: Conn, messages: list[Message]) -> list[Claim]:
        ttl_ms = max(1, messages[0].visible_ms - messages[0].sent_ms)
        return await event_queue.claim_slots(conn, messages, holder=self.holder,
                                             account_limit=self.settings.account_concurrency, ttl_ms=ttl_ms)

    # ---- configuration cache --------------------------------------------------------------------
    def config_changed(self) -> None:
        self._epoch += 1
        self._cache.clear()

    async def _check_generation(self) -> None:
        value, read_s = self._generation
        if time.monotonic() - read_s <= GENERATION_MAX_AGE_S:
            return
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
            return
        self._refreshing = asyncio.get_running_loop().create_future()
        try:
            fresh = int(await self.db.fetchval("SELECT gen FROM config_generation WHERE id = 1"))
            if fresh != value:
                self.config_changed()
            self._generation = (fresh, time.monotonic())
        finally:
            self._refreshing.set_result(None)
            self._refreshing = None

    async def cached(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        await self._check_generation()
        if key in self._cache:
            return cast(T, self._cache[key])
        epoch = self._epoch
        value = await load()
        if epoch != self._epoch:  # a change landed while loading: do not keep a possibly stale value
            return value
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = value
        return value

    async def get_event_config(self, function: str, qualifier: str) -> EventConfig | None:
        load = super().get_event_config
        return await self.cached(("event-config", function, qualifier), lambda: load(function, qualifier))
