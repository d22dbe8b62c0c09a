"""Scheduled rules: fire each due tick's "Scheduled Event" to every target of the rule, once.

Runs in every dispatching process (`serve`, `worker`). For each rule whose next tick is due it computes
the tick to fire (the latest one at or before now, if no later than the grace: ticks missed while every
dispatcher was down are skipped, never backfilled) and the tick after it, then asks the store to
compare-and-set the rule's next tick and, in that same transaction, queue one rule-target job per target
(delivered by the one job loop). Two processes that see the same tick due race on that compare-and-set:
one fires, the other fires nothing. Between ticks the poller sleeps until the earliest next tick, a
rule change in this process (`wakeups.SCHEDULES`), or a fallback poll for rules put through another
process's API.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from lambdalite.aio import wait_event
from lambdalite.clock import now_ms
from lambdalite.destinations.rule_targets import job_body
from lambdalite.model import schedule
from lambdalite.model.event import RULE_TARGET_KIND
from lambdalite.model.queue import NewMessage
from lambdalite.model.schedule import ScheduleState, Ticks
from lambdalite.node import Node
from lambdalite.wakeups import JOBS, SCHEDULES

log = logging.getLogger(__name__)

BATCH = 100
FALLBACK_POLL_S = 1.0  # rules put through another process's API; a tick has 60 s of grace


def scheduled_event(state: ScheduleState, tick_ms: int) -> dict[str, Any]:
    """AWS's "Scheduled Event": `time` is the tick (whole seconds), `resources` the rule's ARN."""
    account = state.arn.split(":")[4]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.fromtimestamp(tick_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": state.region,
        "resources": [state.arn],
        "detail": {},
    }


def target_jobs(state: ScheduleState, tick_ms: int, targets: list[dict[str, Any]]) -> list[NewMessage]:
    """Pure (it runs inside the store's transaction): one job per target for this tick."""
    event = scheduled_event(state, tick_ms)
    return [NewMessage(kind=RULE_TARGET_KIND, queue=RULE_TARGET_KIND,
                       id=f"schedule:{state.arn}:{tick_ms}:{target['Id']}",
                       body=job_body(event, state.region, state.name, state.arn, target))
            for target in targets]


class SchedulePoller:
    def __init__(self, node: Node):
        self.node = node
        self.scale = node.settings.schedule_scale
        self._wake = asyncio.Event()
        node.wakeups.listen(SCHEDULES, self._wake.set)

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            self._wake.clear()
            try:
                if not await self.run_once():
                    continue  # a full batch: more may be due
                delay_s = await self._sleep_s()
            except Exception:
                log.exception("schedule poller failed")
                delay_s = FALLBACK_POLL_S
            await wait_event(self._wake, delay_s)

    async def _sleep_s(self) -> float:
        next_ms = await self.node.store.next_schedule_ms()
        if next_ms is None:
            return FALLBACK_POLL_S
        return max(0.0, min(FALLBACK_POLL_S, (next_ms - now_ms()) / 1000))

    async def run_once(self) -> bool:
        """Handle every due rule (up to a batch); True when fewer than a batch were due."""
        due = await self.node.store.due_schedules(now_ms(), BATCH)
        fired = 0
        for state in due:
            fired += await self.fire(state)
        if fired:
            self.node.wakeups.notify(JOBS)
        return len(due) < BATCH

    async def fire(self, state: ScheduleState) -> bool:
        """Fire this rule's due tick if it is ours to fire (True), or only move past missed ticks."""
        assert state.next_ms is not None
        try:
            ticks = Ticks(schedule.parse(state.expression), state.anchor_ms, self.scale)
        except schedule.InvalidSchedule:  # stored expressions were validated; never let one stop the others
            await self.node.store.advance_schedule(state, None, None)
            return False
        now = now_ms()
        tick, following = ticks.due(state.next_ms, now)
        if tick is None:
            log.info("schedule %s: tick(s) from %d missed by more than the grace: skipped", state.arn, state.next_ms)
            await self.node.store.advance_schedule(state, following, None)
            return False

        def jobs(targets: list[dict[str, Any]]) -> list[NewMessage]:
            return target_jobs(state, tick, targets)

        return await self.node.store.advance_schedule(state, following, jobs)
