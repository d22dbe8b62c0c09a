"""One try of one leased event: resolve now, check age and concurrency, run, ask the policy.

Returns a `Finish` (what to commit) instead of writing itself, so the dispatcher commits the decision,
the outcome, the deliveries and the slot release in one transaction.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import orjson

from lambdalite import lineage, metrics
from lambdalite.clock import now_ms
from lambdalite.faults import Fault
from lambdalite.model import history
from lambdalite.model.event import QueuedEvent
from lambdalite.model.event_config import EventConfig
from lambdalite.model.outcome import Condition, Outcome
from lambdalite.model.queue import Claim, Message
from lambdalite.model.run import InvokeRequest, InvokeResult, Status
from lambdalite.node import Node
from lambdalite.policy import (
    DEFAULT_MAX_EVENT_AGE_S,
    DEFAULT_MAX_RETRY_ATTEMPTS,
    Decision,
    Done,
    Limits,
    Result,
    decide,
    recursion_stops,
    too_old,
)
from lambdalite.resolve import Resolved, resolve_function

log = logging.getLogger(__name__)

_RESULT_OF_STATUS = {
    Status.OK: Result.SUCCESS,
    Status.FUNCTION_ERROR: Result.FUNCTION_ERROR,
    Status.SYSTEM_ERROR: Result.SYSTEM_ERROR,
}


@dataclass(slots=True)
class Finish:
    """What the dispatcher commits after one try."""

    event: QueuedEvent
    decision: Decision
    slot_id: int | None = None
    outcome: Outcome | None = None  # set when the event ended (None: dropped without a record)
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None
    # For the event history: when the try started and what came of it (None: it did not run).
    started_ms: int = 0
    result: InvokeResult | None = None
    throttled: bool = False


def limits_for(node: Node, config: EventConfig | None) -> Limits:
    settings = node.settings
    retries = config.max_retry_attempts if config else None
    age_s = config.max_event_age_s if config else None
    return Limits(
        max_retry_attempts=DEFAULT_MAX_RETRY_ATTEMPTS if retries is None else retries,
        max_event_age_s=DEFAULT_MAX_EVENT_AGE_S if age_s is None else age_s,
        retry_base_delay_s=settings.retry_base_delay_s,
        throttle_base_delay_s=settings.throttle_base_delay_s,
        throttle_max_delay_s=settings.throttle_max_delay_s,
    )


def _error_message(payload: bytes) -> str | None:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", "replace")
    return str(data.get("errorMessage")) if isinstance(data, dict) and "errorMessage" in data else None


class Attempt:
    resolved: Resolved  # read when the event runs
    config: EventConfig | None

    def __init__(self, node: Node, message: Message, event: QueuedEvent, claim: Claim = None):
        """`claim`: the slot taken with the lease (its id), the 429 reason it was refused, or None."""
        self.node = node
        self.message = message
        self.event = event
        self.slot_id = claim if isinstance(claim, int) else None
        self.refused = claim if isinstance(claim, str) else None
        self.started_ms = now_ms()

    async def run(self) -> Finish:
        try:
            finish = await self._run()
        except Exception:
            log.exception("event %s: attempt failed inside lambdalite; retried with backoff", self.event.request_id)
            finish = self._system_error()
        except BaseException:
            if self.slot_id is not None:
                await self.node.store.release_slot(self.slot_id)
            raise
        finish.started_ms = self.started_ms
        return finish

    def _system_error(self) -> Finish:
        """A failure of lambdalite's, not the function's: requeued with the throttle/system-error backoff
        (no retry consumed), instead of only letting the lease lapse, which would re-run the event every
        lease period without backoff or count."""
        limits = limits_for(self.node, getattr(self, "config", None))
        decision = decide(Result.SYSTEM_ERROR, self.event, limits, now_ms=now_ms(), jitter=random.random())
        if isinstance(decision, Done) and hasattr(self, "resolved"):
            return self._finish(decision, None)
        return Finish(self.event, decision, slot_id=self.slot_id)

    async def _run(self) -> Finish:
        event = self.event
        try:
            resolved = await resolve_function(self.node, event.function, event.qualifier, event.region)
        except Fault as err:
            if err.status != 404:
                raise
            log.warning("event %s dropped: %s", event.request_id, err.message)
            return Finish(event, Done(Condition.RETRIES_EXHAUSTED, event.attempts), slot_id=self.slot_id)
        self.resolved = resolved
        self.config = await self.node.store.get_event_config(resolved.name, event.qualifier)
        limits = limits_for(self.node, self.config)
        started_ms = now_ms()
        if too_old(event, limits, started_ms):
            return self._finish(Done(Condition.EVENT_AGE_EXCEEDED, event.attempts), None)
        if recursion_stops(event.hops, resolved.recursion):
            metrics.RECURSION_DROPPED.labels(resolved.name).inc()
            return self._finish(Done(Condition.RECURSIVE_INVOCATION, event.attempts), None)
        if resolved.reserved_concurrency == 0:
            return self._finish(decide(Result.ZERO_RESERVED, event, limits, now_ms=started_ms, jitter=0), None)
        if self.slot_id is None and self.refused is None:
            await self._acquire(resolved)
        if self.slot_id is None:
            metrics.THROTTLES.labels(resolved.name).inc()
            finish = self._finish(decide(Result.THROTTLE, event, limits, now_ms=now_ms(), jitter=random.random()), None)
            finish.throttled = True
            return finish
        result = await self._invoke(resolved, started_ms)
        decision = decide(_RESULT_OF_STATUS[result.status], event, limits, now_ms=now_ms(), jitter=random.random())
        finish = self._finish(decision, result)
        finish.result = result
        return finish

    async def _acquire(self, resolved: Resolved) -> None:
        """Take a slot now (the lease did not: the function was created or changed in between)."""
        slot = await self.node.store.acquire_slot(resolved.name, resolved.reserved_concurrency)
        if isinstance(slot, str):
            self.refused = slot
        else:
            self.slot_id = slot

    async def _invoke(self, resolved: Resolved, started_ms: int) -> InvokeResult:
        name = resolved.name
        event = self.event
        series = metrics.of(name)
        series.async_age.observe(started_ms - event.accepted_ms)
        series.invocations.inc()
        series.concurrent.inc()
        request = InvokeRequest(
            request_id=event.request_id,
            payload=self.message.body,
            invoked_arn=event.invoked_arn or resolved.unqualified_arn,
            trace_id=self._trace_header(name),
        )
        try:
            result = await self.node.pool.invoke(resolved.spec, request, prefer_warm=True)
        finally:
            series.concurrent.dec()
        if result.status is Status.FUNCTION_ERROR:
            series.errors.inc()
        if result.status is not Status.SYSTEM_ERROR:
            series.duration.observe(result.duration_ms)
        else:
            log.warning("event %s: system error %s", event.request_id, result.error_type)
        return result

    def _trace_header(self, function: str) -> str:
        """The trace header this event's invocation runs under: one more hop in its chain's Lineage."""
        return lineage.with_lineage(self.event.trace_id, self.event.hops + 1, lineage.lineage_tag(function))

    def _finish(self, decision: Decision, result: InvokeResult | None) -> Finish:
        if not isinstance(decision, Done):
            return Finish(self.event, decision, slot_id=self.slot_id)
        resolved, config, event = self.resolved, self.config, self.event
        ran = result is not None and result.status is not Status.SYSTEM_ERROR
        outcome = Outcome(
            request_id=event.request_id,
            function=resolved.name,
            qualifier=event.qualifier,
            function_arn=resolved.qualified_arn,
            region=event.region,
            condition=decision.condition,
            approximate_invoke_count=decision.approximate_invoke_count,
            request_payload=self.message.body,
            ended_ms=now_ms(),
            response_payload=result.payload if ran and result else None,
            function_error=result.function_error if ran and result else None,
            executed_version=resolved.executed_version if ran else None,
            status_code=200 if ran else None,
            error_type=result.error_type if ran and result else None,
            error_message=_error_message(result.payload) if ran and result and result.function_error else None,
            trace_id=self._trace_header(resolved.name),
        )
        return Finish(
            event,
            decision,
            slot_id=self.slot_id,
            outcome=outcome,
            on_success=config.destination("OnSuccess") if config else None,
            on_failure=config.destination("OnFailure") if config else None,
            dead_letter=resolved.dead_letter_arn,
        )


_HISTORY_RESULT = {
    Status.OK: history.Result.SUCCESS,
    Status.FUNCTION_ERROR: history.Result.FUNCTION_ERROR,
    Status.SYSTEM_ERROR: history.Result.SYSTEM_ERROR,
}


def attempt_record(message: Message, finish: Finish) -> history.AttemptRecord:
    """The event history's row for this try: numbered by the event's leases within its run."""
    event, result, decision = finish.event, finish.result, finish.decision
    if result is not None:
        kind = _HISTORY_RESULT[result.status]
    elif finish.throttled:
        kind = history.Result.THROTTLED
    elif isinstance(decision, Done):
        kind = history.Result.NOT_RUN
    else:
        kind = history.Result.SYSTEM_ERROR
    failed = result is not None and result.status is not Status.OK
    return history.AttemptRecord(
        request_id=event.request_id,
        function=event.function,
        run=event.run,
        number=message.receive_count,
        started_ms=finish.started_ms or now_ms(),
        ended_ms=now_ms(),
        result=kind,
        error_type=result.error_type if failed and result else None,
        error_message=history.clip_message(_error_message(result.payload)) if failed and result else None,
        retry_at_ms=None if isinstance(decision, Done) else decision.at_ms,
        condition=decision.condition.value if isinstance(decision, Done) and finish.outcome is not None else None,
    )
