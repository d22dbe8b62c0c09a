"""Concurrency slots (Store protocol): reserved limits, the account's unreserved pool, release, renewal
by the process that holds them, and the lapse of slots nobody renews (a killed process's)."""

from __future__ import annotations

import asyncio
import time

from lambdalite.model.queue import Leased
from lambdalite.store.protocol import Store
from tests.support.aio import wait_for
from tests.support.backends import Backend
from tests.support.records import create_function, queued_event

FUNCTION_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
LEASE_S = 0.3  # slots live this long unless renewed
RENEW_PERIOD_S = LEASE_S / 6  # the maintenance loop renews every lease_s / 3: renew more often here


async def renew_for(store: Store, duration_s: float) -> None:
    """What the maintenance loop does, for `duration_s` (several slot lifetimes)."""
    until_s = time.monotonic() + duration_s
    while time.monotonic() < until_s:
        await store.renew_slots()
        await asyncio.sleep(RENEW_PERIOD_S)


async def slot_is_free(store: Store, function: str, reserved: int) -> bool:
    """Takes the slot when it is free."""
    return isinstance(await store.acquire_slot(function, reserved), int)


async def test_reserved_concurrency_limits_slots_until_one_is_released(store: Store) -> None:
    await create_function(store, "r", reserved=2)
    first, second = await store.acquire_slot("r", 2), await store.acquire_slot("r", 2)
    assert isinstance(first, int) and isinstance(second, int) and first != second
    assert await store.acquire_slot("r", 2) == FUNCTION_LIMIT
    await store.release_slot(first)
    assert isinstance(await store.acquire_slot("r", 2), int)
    assert await store.acquire_slot("r", 2) == FUNCTION_LIMIT


async def test_unreserved_functions_share_the_account_limit_less_every_reservation(backend: Backend) -> None:
    store = backend.open(account_concurrency=4)
    await create_function(store, "r", reserved=2)
    await create_function(store, "a")
    await create_function(store, "b")
    got = [await store.acquire_slot(name, None) for name in ("a", "b", "a")]
    assert all(isinstance(x, int) for x in got[:2]) and got[2] == ACCOUNT_LIMIT
    assert isinstance(await store.acquire_slot("r", 2), int)  # the reservation is untouched
    assert isinstance(await store.acquire_slot("r", 2), int)


async def test_slots_are_shared_by_every_process_on_the_data(backend: Backend) -> None:
    mine, theirs = backend.open(), backend.open()
    await create_function(mine, "r", reserved=1)
    slot = await mine.acquire_slot("r", 1)
    assert isinstance(slot, int)
    assert await theirs.acquire_slot("r", 1) == FUNCTION_LIMIT
    await mine.release_slot(slot)
    assert isinstance(await theirs.acquire_slot("r", 1), int)


async def test_a_slot_nobody_renews_lapses(backend: Backend) -> None:
    store = backend.open(lease_s=LEASE_S)
    await create_function(store, "r", reserved=1)
    assert isinstance(await store.acquire_slot("r", 1), int)
    assert await store.acquire_slot("r", 1) == FUNCTION_LIMIT
    await wait_for(lambda: slot_is_free(store, "r", 1), what="the unrenewed slot to lapse")


async def test_renewal_keeps_the_slots_this_process_holds(backend: Backend) -> None:
    store = backend.open(lease_s=LEASE_S)
    await create_function(store, "r", reserved=1)
    slot = await store.acquire_slot("r", 1)
    assert isinstance(slot, int)
    await renew_for(store, 3 * LEASE_S)
    assert await store.acquire_slot("r", 1) == FUNCTION_LIMIT
    await store.release_slot(slot)
    assert isinstance(await store.acquire_slot("r", 1), int)


async def test_renewal_keeps_slots_claimed_with_a_lease(backend: Backend) -> None:
    store = backend.open(lease_s=LEASE_S)
    await create_function(store, "r", reserved=1)
    await store.accept_event(queued_event("r"), b"{}")
    [leased] = await store.lease_events(1, 60_000)
    assert isinstance(leased.claim, int)
    await renew_for(store, 3 * LEASE_S)
    assert await store.acquire_slot("r", 1) == FUNCTION_LIMIT


async def test_renewal_keeps_slots_claimed_by_a_direct_dispatch_accept(backend: Backend) -> None:
    store = backend.open(lease_s=LEASE_S)
    await create_function(store, "r", reserved=1)
    leased = await store.accept_event(queued_event("r"), b"{}", lease_ms=60_000, receipt="r1")
    assert isinstance(leased, Leased) and isinstance(leased.claim, int)
    await renew_for(store, 3 * LEASE_S)
    assert await store.acquire_slot("r", 1) == FUNCTION_LIMIT


async def test_a_dropped_slot_is_no_longer_renewed_and_a_held_one_is_again(backend: Backend) -> None:
    """drop_slot: its release is part of another write; should that write fail, the slot must lapse."""
    store = backend.open(lease_s=LEASE_S)
    await create_function(store, "r", reserved=1)
    slot = await store.acquire_slot("r", 1)
    assert isinstance(slot, int)
    store.drop_slot(slot)
    store.hold_slots([slot])
    await renew_for(store, 3 * LEASE_S)
    assert await store.acquire_slot("r", 1) == FUNCTION_LIMIT  # held again: renewed
    store.drop_slot(slot)

    async def renewed_yet_free() -> bool:
        await store.renew_slots()
        return await slot_is_free(store, "r", 1)

    await wait_for(renewed_yet_free, what="the dropped slot to lapse while the process renews")
