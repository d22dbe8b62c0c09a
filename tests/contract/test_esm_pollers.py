"""The event source mapping pollers, in process, on a real store of every backend.

Only the execution environments are faked (FakePool); the queue engine, slots, the mapping records, the
records' rendering (the SQS service's, through Ports) and the pollers are lambdalite's own code.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson

from lambdalite.clock import now_ms
from lambdalite.model.esm import CREATING, EventSourceMapping
from lambdalite.model.queue import NewMessage
from lambdalite.model.sqs import QueueRecord
from lambdalite.node import Node
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.services.ports import ServicePorts
from lambdalite.store.protocol import Store
from lambdalite.wakeups import MAPPINGS, sqs_topic
from lambdalite.worker.esm import MappingPollers
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.fakes import FakePool, function_error
from tests.support.records import REGION, create_function, function_arn, queue_arn

ATTRS = {"VisibilityTimeout": "1", "MessageRetentionPeriod": "345600", "DelaySeconds": "0"}


class Process:
    """One dispatcher-role process: a Node on the backend, its environments faked, its pollers running."""

    def __init__(self, backend: Backend):
        self.store: Store = backend.open(lease_s=5.0)
        self.pool = FakePool()
        self.node = Node(settings=backend.settings(lease_s=5.0), store=self.store,
                         pool=cast(EnvironmentPool, self.pool))
        self.node.ports = ServicePorts(self.node)

    @contextlib.asynccontextmanager
    async def polling(self) -> AsyncIterator[None]:
        task = asyncio.create_task(MappingPollers(self.node).run())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def queue_with(store: Store, name: str, bodies: list[str]) -> str:
    arn = queue_arn(name)
    await store.sqs_create_queue(QueueRecord(REGION, name, arn, dict(ATTRS), {}, 0, 0))
    await store.sqs_send(arn, [NewMessage("sqs", arn, str(uuid.uuid4()), b.encode(), b'{"s": "AIDA"}')
                               for b in bodies])
    return arn


async def mapping(store: Store, source: str, function: str, **fields: Any) -> EventSourceMapping:
    given: dict[str, Any] = {"batch_size": 10, "window_s": 0, "enabled": True, **fields}
    m = EventSourceMapping(uuid=str(uuid.uuid4()), region=REGION, source_arn=source, function_name=function,
                           function_arn=function_arn(function), state=CREATING, changed_ms=now_ms(), **given)
    assert await store.esm_create(m) is None
    return m


def bodies_of(pool: FakePool) -> list[str]:
    return [r["body"] for call in pool.calls for r in orjson.loads(call.request.payload)["Records"]]


async def pending(store: Store, arn: str) -> int:
    counts = await store.sqs_counts(arn, 345600)
    return counts.visible + counts.in_flight + counts.delayed


async def test_batch_delivered_and_deleted(backend: Backend) -> None:
    p = Process(backend)
    await create_function(p.store, "f")
    arn = await queue_with(p.store, "q", ["a", "b", "c"])
    await mapping(p.store, arn, "f", batch_size=2)
    async with p.polling():
        await wait_for(lambda: sorted(bodies_of(p.pool)) == ["a", "b", "c"], what="three messages delivered")
        await wait_for(lambda: _zero(p.store, arn), what="the queue emptied")
    assert all(len(orjson.loads(c.request.payload)["Records"]) <= 2 for c in p.pool.calls)
    record = orjson.loads(p.pool.calls[0].request.payload)["Records"][0]
    assert record["eventSourceARN"] == arn and record["attributes"]["ApproximateReceiveCount"] == "1"


async def _zero(store: Store, arn: str) -> bool:
    return await pending(store, arn) == 0


async def test_function_error_returns_the_batch(backend: Backend) -> None:
    p = Process(backend)
    p.pool.answers(function_error(), function_error(), function_error())
    await create_function(p.store, "f")
    arn = await queue_with(p.store, "q", ["x"])
    await mapping(p.store, arn, "f")
    async with p.polling():
        await wait_for(lambda: len(p.pool.calls) >= 2, timeout_s=20, what="the message back after its visibility")
    counts = [orjson.loads(c.request.payload)["Records"][0]["attributes"]["ApproximateReceiveCount"]
              for c in p.pool.calls[:2]]
    assert counts == ["1", "2"]
    assert await pending(p.store, arn) == 1


async def test_disabled_mapping_waits_until_enabled(backend: Backend) -> None:
    p = Process(backend)
    await create_function(p.store, "f")
    arn = await queue_with(p.store, "q", ["later"])
    m = await mapping(p.store, arn, "f", enabled=False)
    async with p.polling():
        await asyncio.sleep(0.6)  # a stretch with the mapping off: nothing may be delivered (not a synchronisation)
        assert p.pool.calls == []
        await p.store.esm_update(m.uuid, lambda cur: cur.changed(now_ms(), enabled=True))
        p.node.wakeups.notify(MAPPINGS)
        await wait_for(lambda: bodies_of(p.pool) == ["later"], what="delivery once enabled")


async def test_maximum_concurrency_holds_across_processes(backend: Backend) -> None:
    first, second = Process(backend), Process(backend)
    for p in (first, second):
        p.pool.hold()
    await create_function(first.store, "f")
    arn = await queue_with(first.store, "q", [f"m{i}" for i in range(6)])
    await mapping(first.store, arn, "f", batch_size=1, max_concurrency=2)
    async with first.polling(), second.polling():
        await wait_for(lambda: first.pool.running + second.pool.running == 2, what="two batches running")
        second.node.wakeups.notify(sqs_topic(arn))
        await asyncio.sleep(0.6)  # a stretch at the limit: no third batch may start (not a synchronisation)
        assert first.pool.running + second.pool.running == 2
        for p in (first, second):
            p.pool.release()
        await wait_for(lambda: len(bodies_of(first.pool) + bodies_of(second.pool)) == 6, timeout_s=20,
                       what="all six delivered")
