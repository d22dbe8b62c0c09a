"""The embedded default backend: one SQLite file in the data folder (see db.py for why it is fast).

Reads run on the calling thread's own connection (WAL readers never wait for the writer) and are cheap
enough to run inline on the event loop; they are still `async` because the protocol's are.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import TypeVar, cast

from lambdalite.model.event_config import EventConfig
from lambdalite.settings import Settings
from lambdalite.store.sqlite import (
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
    queues,
    s3,
    s3_bodies,
    schedules,
    slots,
    sns,
    sqs,
    tags,
)
from lambdalite.store.sqlite import event_source_mappings as esm_store
from lambdalite.store.sqlite.db import Database
from lambdalite.store.sqlite.node_hooks import NodeHooks

T = TypeVar("T")
_CACHE_LIMIT = 4096

_MODULES = (functions, event_configs, outcomes, queues, slots, sqs, buses, history, sns, schedules, tags,
            permissions, layers, log_groups, s3, esm_store, move_tasks)


class SqliteStore(
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
    sns.SnsStore,
    tags.TagsStore,
    permissions.PermissionsStore,
    layers.LayersStore,
    log_groups.LogGroupsStore,
    function_logs.FunctionLogsStore,
    NodeHooks,
    esm_store.EventSourceMappingsStore,
):
    """The Store protocol on one Database: each domain's operations live in its own module."""

    def __init__(self, settings: Settings, *, read_only: bool = False):
        self.settings = settings
        self.log_files = function_logs.log_files(settings)
        if read_only:
            self.db = Database(db_path(settings), [], read_only=True)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            schema: list[str] = []
            for module in _MODULES:
                schema.extend(module.SCHEMA)
            self.db = Database(db_path(settings), schema)
            self.watch_generation()
        self.holder = uuid.uuid4().hex  # this process, for concurrency slots
        self._held_slots: set[int] = set()  # the slots this process holds: the only ones renewal keeps
        self._cache: dict[Hashable, object] = {}
        self._cache_generation = -1

    def close(self) -> None:
        self.log_files.close()
        self.db.close()

    # ---- configuration cache --------------------------------------------------------------------
    async def cached(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`'s value, reused until any function, version, alias or event invoke config changes
        (the generation counter those tables' triggers bump; see FunctionsStore.function_generation)."""
        generation = self.function_generation()
        if generation != self._cache_generation:
            self._cache.clear()
            self._cache_generation = generation
        if key in self._cache:
            return cast(T, self._cache[key])
        value = await load()
        if self._cache_generation != generation:  # a change landed while loading: do not keep a stale value
            return value
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = value
        return value

    async def get_event_config(self, function: str, qualifier: str) -> EventConfig | None:
        load = super().get_event_config
        return await self.cached(("event-config", function, qualifier), lambda: load(function, qualifier))


def db_path(settings: Settings) -> Path:
    return settings.data_dir / "lambdalite.db"
