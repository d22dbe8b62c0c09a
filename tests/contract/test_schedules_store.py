"""Scheduled rules' ticks (Store protocol): rows follow the rules, and a tick is claimed once, with its
target jobs, even by two store instances (two processes) racing for it."""

from __future__ import annotations

import asyncio
from typing import Any

from lambdalite.clock import now_ms
from lambdalite.model.event import RULE_TARGET_KIND
from lambdalite.model.queue import NewMessage
from lambdalite.model.schedule import ScheduleState
from lambdalite.store.protocol import Store
from tests.contract.test_buses_store import default_bus, rule, target
from tests.support.backends import Backend
from tests.support.records import REGION

FAR_MS = now_ms() + 10 * 365 * 86_400_000


def jobs_for(tick: int) -> Any:
    def build(targets: list[dict[str, Any]]) -> list[NewMessage]:
        return [NewMessage(kind=RULE_TARGET_KIND, queue=RULE_TARGET_KIND, id=f"t{tick}-{t['Id']}",
                           body=t["Id"].encode()) for t in targets]

    return build


async def scheduled(store: Store, name: str = "timer", expression: str = "rate(1 minute)",
                    state: str = "ENABLED") -> None:
    await default_bus(store)
    await store.put_rule(REGION, rule(name, pattern=None, schedule=expression, state=state), 10)


async def only(store: Store) -> ScheduleState:
    (found,) = await store.due_schedules(FAR_MS, 10)
    return found


async def test_an_enabled_scheduled_rule_gets_its_first_tick_one_period_on(store: Store) -> None:
    before = now_ms()
    await scheduled(store)
    state = await only(store)
    assert state.expression == "rate(1 minute)" and state.name == "timer" and state.bus == "default"
    assert state.arn.endswith(":rule/default/timer")
    assert before <= state.anchor_ms <= now_ms() and state.next_ms == state.anchor_ms + 60_000
    assert await store.next_schedule_ms() == state.next_ms
    assert await store.due_schedules(state.next_ms - 1, 10) == []


async def test_pattern_and_disabled_rules_have_no_ticks(store: Store) -> None:
    await default_bus(store)
    await store.put_rule(REGION, rule("pattern-only"), 10)
    await scheduled(store, "off", state="DISABLED")
    assert await store.due_schedules(FAR_MS, 10) == []
    assert await store.next_schedule_ms() is None


async def test_rows_follow_state_changes_and_deletes(store: Store) -> None:
    await scheduled(store)
    first = await only(store)
    await store.put_rule(REGION, rule("timer", pattern=None, schedule="rate(1 minute)"), 10)
    assert await only(store) == first  # the same expression again: the same anchor
    await store.set_rule_state(REGION, "default", "timer", "DISABLED")
    assert await store.due_schedules(FAR_MS, 10) == []
    await asyncio.sleep(0.01)
    await store.set_rule_state(REGION, "default", "timer", "ENABLED")
    again = await only(store)
    assert again.anchor_ms > first.anchor_ms  # re-enabled: anchored anew
    await store.put_rule(REGION, rule("timer", pattern=None, schedule="cron(0 10 * * ? *)"), 10)
    changed = await only(store)
    assert changed.expression == "cron(0 10 * * ? *)" and changed.next_ms is not None
    assert changed.next_ms % 86_400_000 == 10 * 3_600_000
    await store.delete_rule(REGION, "default", "timer")
    assert await store.due_schedules(FAR_MS, 10) == []


async def test_advance_claims_a_tick_once_and_queues_the_target_jobs(store: Store) -> None:
    await scheduled(store)
    await store.put_targets(REGION, "default", "timer", [target("a"), target("b")])
    state = await only(store)
    assert state.next_ms is not None
    assert await store.advance_schedule(state, state.next_ms + 60_000, jobs_for(state.next_ms))
    assert not await store.advance_schedule(state, state.next_ms + 60_000, jobs_for(state.next_ms))
    jobs = await store.lease_jobs(RULE_TARGET_KIND, 60_000, 10)
    assert sorted(j.body for j in jobs) == [b"a", b"b"]
    assert (await only(store)).next_ms == state.next_ms + 60_000


async def test_advance_without_jobs_only_moves_the_tick(store: Store) -> None:
    await scheduled(store)
    await store.put_targets(REGION, "default", "timer", [target("a")])
    state = await only(store)
    assert await store.advance_schedule(state, None, None)
    assert await store.lease_jobs(RULE_TARGET_KIND, 60_000, 10) == []
    assert await store.due_schedules(FAR_MS, 10) == [] and await store.next_schedule_ms() is None


async def test_a_changed_rule_is_not_fired_with_its_old_tick(store: Store) -> None:
    await scheduled(store)
    await store.put_targets(REGION, "default", "timer", [target("a")])
    stale = await only(store)
    await store.put_rule(REGION, rule("timer", pattern=None, schedule="rate(2 minutes)"), 10)
    assert not await store.advance_schedule(stale, 1, jobs_for(1))
    assert await store.lease_jobs(RULE_TARGET_KIND, 60_000, 10) == []


async def test_two_processes_racing_for_one_tick_fire_it_once(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    await scheduled(one)
    await one.put_targets(REGION, "default", "timer", [target("a")])
    for round_ in range(20):
        state_one, state_two = await only(one), await only(two)
        assert state_one == state_two and state_one.next_ms is not None
        tick = state_one.next_ms
        won = await asyncio.gather(one.advance_schedule(state_one, tick + 60_000, jobs_for(tick)),
                                   two.advance_schedule(state_two, tick + 60_000, jobs_for(tick)))
        assert sorted(won) == [False, True], round_
    jobs = await one.lease_jobs(RULE_TARGET_KIND, 60_000, 100)
    assert len(jobs) == 20
