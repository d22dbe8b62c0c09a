"""The configuration cache (Store.cached): the hot path reads no configuration, yet any change to a
function, version, alias, reserved concurrency or event invoke config is seen by the next read, at once
in the process that made it and within a bounded time in every other process on the same data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from lambdalite.model.function import FunctionTarget
from lambdalite.model.sqs import QueueRecord
from lambdalite.store.protocol import Store
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.records import REGION, alias_config, create_function, queue_arn, queued_event

OTHER_PROCESS_S = 5.0  # a generous bound on how stale another process's cache may be


class Loader:
    """A load function that counts how often the cache called it."""

    def __init__(self) -> None:
        self.loads = 0

    async def __call__(self) -> int:
        self.loads += 1
        return self.loads


async def test_a_cached_value_is_reused_while_nothing_configured_changes(store: Store) -> None:
    load = Loader()
    assert await store.cached("k", load) == 1
    assert await store.cached("k", load) == 1
    assert await store.cached("other", load) == 2  # keys are cached apart
    assert await store.cached("k", load) == 1
    # Work that is not configuration (accepted events, queues, slots) keeps the cache.
    await store.accept_event(queued_event("f"), b"{}")
    await store.sqs_create_queue(QueueRecord(REGION, "q", queue_arn("q"), {}, {}, 0, 0))
    await store.acquire_slot("f", None)
    assert await store.cached("k", load) == 1


async def test_every_configuration_change_invalidates_the_cache_in_this_process_at_once(store: Store) -> None:
    load = Loader()
    changes: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("create function", lambda: create_function(store, "f")),
        ("update $LATEST", lambda: store.update_latest("f", lambda c: {**c, "Timeout": 9}, None, False)),
        ("publish a version", lambda: store.publish_version("f", None)),
        ("create an alias", lambda: store.put_alias("f", "live", alias_config("f", "live", "1"), create=True)),
        ("reserve concurrency", lambda: store.set_reserved_concurrency("f", 3)),
        ("set recursion", lambda: store.set_recursion("f", "Allow")),
        ("put an event config", lambda: store.put_event_config("f", "$LATEST", {"MaximumRetryAttempts": 0}, 1)),
        ("update an event config",
         lambda: store.update_event_config("f", "$LATEST", lambda c: {**c, "MaximumRetryAttempts": 1}, 2)),
        ("delete an event config", lambda: store.delete_event_config("f", "$LATEST")),
        ("delete the alias", lambda: store.delete_alias("f", "live")),
        ("delete the version", lambda: store.delete_version("f", "1")),
        ("delete the function", lambda: store.delete_function("f")),
    ]
    seen = await store.cached("k", load)
    for what, change in changes:
        await change()
        now_seen = await store.cached("k", load)
        assert now_seen == seen + 1, f"the cache kept its value after: {what}"
        assert await store.cached("k", load) == now_seen
        seen = now_seen


async def test_event_configs_are_read_through_the_cache_and_changes_are_seen_at_once(store: Store) -> None:
    await create_function(store, "f")
    assert await store.get_event_config("f", "$LATEST") is None
    await store.put_event_config("f", "$LATEST", {"MaximumRetryAttempts": 0}, 1)
    config = await store.get_event_config("f", "$LATEST")
    assert config is not None and config.max_retry_attempts == 0
    await store.delete_event_config("f", "$LATEST")
    assert await store.get_event_config("f", "$LATEST") is None


async def test_a_change_made_by_another_process_is_seen_within_a_bounded_time(backend: Backend) -> None:
    mine, theirs = backend.open(), backend.open()
    await create_function(mine, "f")

    async def timeout_of_latest() -> int:
        async def load() -> FunctionTarget | None:
            return await mine.find_target("f", "$LATEST")

        target = await mine.cached(("target", "f"), load)
        assert target is not None
        return int(target.config["Timeout"])

    assert await timeout_of_latest() == 3
    assert await mine.get_event_config("f", "$LATEST") is None  # cached as missing
    await theirs.update_latest("f", lambda c: {**c, "Timeout": 9}, None, False)
    await theirs.put_event_config("f", "$LATEST", {"MaximumEventAgeInSeconds": 60}, 1)

    async def sees_their_timeout() -> bool:
        return await timeout_of_latest() == 9

    await wait_for(sees_their_timeout, OTHER_PROCESS_S, "another process's function change")
    config = await wait_for(lambda: mine.get_event_config("f", "$LATEST"), OTHER_PROCESS_S,
                            "another process's event config")
    assert config.max_event_age_s == 60
