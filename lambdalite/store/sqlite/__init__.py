"""The embedded default backend: one SQLite file in the data folder (see db.py for why it is fast)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar, cast

from lambdalite.settings import Settings
from lambdalite.store.sqlite import buses, event_configs, functions, outcomes, queues, slots, sqs
from lambdalite.store.sqlite.db import Database
from lambdalite.store.sqlite.event_configs import EventConfig

T = TypeVar("T")
_CACHE_LIMIT = 4096

_MODULES = (functions, event_configs, outcomes, queues, slots, sqs, buses)


class SqliteStore(
    functions.FunctionsStore,
    event_configs.EventConfigsStore,
    outcomes.OutcomesStore,
    sqs.SqsStore,
    buses.BusesStore,
):
    """Facade over one Database. Queue-engine and slot operations are generic and live here."""

    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        schema: list[str] = []
        for module in _MODULES:
            schema.extend(module.SCHEMA)
        self.db = Database(settings.db_path, schema)
        self.watch_generation()
        self.holder = uuid.uuid4().hex  # this process, for concurrency slots
        self._held_slots: set[int] = set()  # the slots this process holds: the only ones renewal keeps
        self._cache: dict[Hashable, object] = {}
        self._cache_generation = -1

    def close(self) -> None:
        self.db.close()

    # ---- configuration cache --------------------------------------------------------------------
    def cached(self, key: Hashable, load: Callable[[], T]) -> T:
        """`load()`'s value, reused until any function, version, alias or event invoke config changes
        (the generation counter those tables' triggers bump; see FunctionsStore.function_generation).
        The hot path (every accept, every attempt) then reads no configuration at all."""
        generation = self.function_generation()
        if generation != self._cache_generation:
            self._cache.clear()
            self._cache_generation = generation
        if key in self._cache:
            return cast(T, self._cache[key])
        value = load()
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = value
        return value

    def get_event_config(self, function: str, qualifier: str) -> EventConfig | None:
        return self.cached(("event-config", function, qualifier),
                           lambda: super(SqliteStore, self).get_event_config(function, qualifier))

    # ---- queue engine ---------------------------------------------------------------------------
    async def send_message(self, **kwargs: Any) -> None:
        await self.db.write(lambda c: queues.send(c, **kwargs))

    async def lease_messages(self, **kwargs: Any) -> list[queues.Message]:
        return await self.db.write(lambda c: queues.lease(c, **kwargs), durable=False)

    async def delete_message(self, id: str, receipt: str | None = None) -> bool:
        return await self.db.write(lambda c: queues.delete(c, id, receipt))

    async def reschedule_message(self, id: str, receipt: str | None, **kwargs: Any) -> bool:
        return await self.db.write(lambda c: queues.reschedule(c, id, receipt, **kwargs), durable=False)

    async def renew_leases(self, leases: list[tuple[str, str]], visible_ms: int) -> int:
        return await self.db.write(lambda c: queues.renew(c, leases, visible_ms), durable=False)

    def queue_counts(self, queue: str) -> queues.QueueCounts:
        return self.db.read(lambda c: queues.counts(c, queue))

    def next_due_ms(self, kind: str) -> int | None:
        return self.db.read(lambda c: queues.next_due_ms(c, kind=kind))

    # ---- concurrency slots ----------------------------------------------------------------------
    async def acquire_slot(self, function: str, reserved: int | None, unreserved_floor: int) -> int | str:
        ttl_ms = int(self.settings.lease_s * 1000)
        account = self.settings.account_concurrency

        def fn(c: sqlite3.Connection) -> int | str:
            return slots.acquire(
                c,
                function=function,
                reserved=reserved,
                account_limit=account,
                unreserved_floor=unreserved_floor,
                holder=self.holder,
                now_ms=queues.now_ms(),
                ttl_ms=ttl_ms,
            )

        slot = await self.db.write(fn, durable=False)
        if isinstance(slot, int):
            self._held_slots.add(slot)
        return slot

    def hold_slots(self, slot_ids: Iterable[int]) -> None:
        """Slots taken inside another write (the dispatcher's lease): renew them until released."""
        self._held_slots.update(slot_ids)

    def drop_slot(self, slot_id: int) -> None:
        """Stop renewing a slot whose release is part of another write: if that write fails, it lapses."""
        self._held_slots.discard(slot_id)

    async def release_slot(self, slot_id: int) -> None:
        self._held_slots.discard(slot_id)  # first: should the write fail, the slot lapses
        await self.db.write(lambda c: slots.release(c, slot_id), durable=False)

    async def renew_slots(self) -> None:
        """Extend the slots this process holds (maintenance, every lease_s / 3) and sweep lapsed ones."""
        now = queues.now_ms()
        expires = now + int(self.settings.lease_s * 1000)
        held = list(self._held_slots)
        await self.db.write(lambda c: slots.renew(c, held, expires, now), durable=False)
