"""Hands queued EventBridge target jobs (kind "events-target") to their targets, with retries.

One loop per dispatching process: lease a batch, deliver each job (SQS message, Lambda async invoke,
another bus), delete it on success; on a retryable failure move its due time with exponential backoff
(the throttle backoff settings) until the target's RetryPolicy (attempts, event age) runs out, then drop
it with a warning. Like AWS, a missing or refusing resource (a 4xx other than throttling) is not retried.
Jobs survive restarts: an unfinished lease lapses and another loop takes the job again (at-least-once).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from typing import Any

import orjson

from lambdalite.aio import wait_event
from lambdalite.node import Node
from lambdalite.services import events_put
from lambdalite.services.http import AwsError
from lambdalite.store.sqlite import queues

log = logging.getLogger(__name__)

_BATCH = 32
_LEASE_MS = 60_000
_IDLE_POLL_S = 1.0  # other processes may queue jobs: look again at least this often
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_wakers: dict[int, asyncio.Event] = {}


def notify(node: Node) -> None:
    """New jobs were committed: wake this process's delivery loop, if it runs one."""
    event = _wakers.get(id(node))
    if event is not None:
        event.set()


class TargetDelivery:
    def __init__(self, node: Node):
        self.node = node
        self._wake = asyncio.Event()
        _wakers[id(node)] = self._wake

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            try:
                jobs = await self.node.store.lease_messages(
                    kind=events_put.JOB_KIND, lease_ms=_LEASE_MS, limit=_BATCH
                )
            except Exception:  # noqa: BLE001 - keep the loop alive, say why
                log.exception("events delivery: lease failed")
                jobs = []
            if jobs:
                await asyncio.gather(*(self._handle(job) for job in jobs))
                continue
            await self._idle()

    async def _idle(self) -> None:
        delay_s = _IDLE_POLL_S
        due_ms = self.node.store.next_due_ms(events_put.JOB_KIND)
        if due_ms is not None:
            delay_s = min(delay_s, max(0.01, (due_ms - queues.now_ms()) / 1000))
        await wait_event(self._wake, delay_s)
        self._wake.clear()

    async def _handle(self, message: queues.Message) -> None:
        job: dict[str, Any] = {}
        try:
            job = orjson.loads(message.body)
            await deliver(self.node, job)
        except Exception as exc:  # noqa: BLE001 - every failure is retried or dropped, never raised
            await self._failed(message, job, exc)
            return
        await self.node.store.delete_message(message.id, message.receipt)

    async def _failed(self, message: queues.Message, job: dict[str, Any], exc: Exception) -> None:
        retries_done = message.receive_count - 1
        age_ms = queues.now_ms() - message.sent_ms
        permanent = isinstance(exc, AwsError) and 400 <= exc.status < 500 and exc.status != 429
        exhausted = retries_done >= int(job.get("max_retries", 0)) or age_ms >= int(job.get("max_age_s", 0)) * 1000
        if permanent or exhausted or not job:
            log.warning("events: dropping delivery of %s to %s (rule %s) after %d attempt(s): %s",
                        job.get("event", {}).get("id"), job.get("target", {}).get("Arn"), job.get("rule"),
                        message.receive_count, exc)
            await self.node.store.delete_message(message.id, message.receipt)
            return
        settings = self.node.settings
        delay_s = min(settings.throttle_base_delay_s * 2**retries_done, settings.throttle_max_delay_s)
        await self.node.store.reschedule_message(
            message.id, message.receipt, visible_ms=queues.now_ms() + int(delay_s * 1000)
        )


# ---- one delivery -------------------------------------------------------------------------------


async def _call(fn: Any, *args: Any) -> Any:
    result = fn(*args)
    return await result if inspect.isawaitable(result) else result


async def deliver(node: Node, job: dict[str, Any]) -> None:
    """Deliver one job to its target; raise on failure."""
    target, event, region = job["target"], job["event"], job["region"]
    arn: str = target["Arn"]
    service = arn.split(":", 3)[2]
    if service == "events":
        await _to_bus(node, region, arn, event, job.get("trace_id"))
        return
    payload = target_payload(target, event, job)
    if service == "sqs":
        from lambdalite.services import sqs as sqs_service

        await _call(sqs_service.deliver_message, node, arn, payload.decode(), None)
    elif service == "lambda":
        from lambdalite.services.lambda_api.invoke_async import enqueue_event

        await _call(enqueue_event, node, arn, payload, region, job.get("trace_id"))
    else:
        raise AwsError(400, "ValidationException", f"Target type {service} is not supported by lambdalite.")


async def _to_bus(node: Node, region: str, bus_arn: str, event: dict[str, Any], trace_id: str | None) -> None:
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": orjson.dumps(event["detail"]).decode(),
        "Resources": event.get("resources") or [],
        "Time": event["time"],
        "EventBusName": bus_arn,
    }
    results = await events_put.put_events_internal(node, region, [entry], trace_id)
    if results and "ErrorCode" in results[0]:
        raise AwsError(400, results[0]["ErrorCode"], results[0].get("ErrorMessage", ""))


def target_payload(target: dict[str, Any], event: dict[str, Any], job: dict[str, Any]) -> bytes:
    """What the target receives: the event, or the target's Input / InputPath / InputTransformer."""
    if "Input" in target:
        return str(target["Input"]).encode()
    if "InputPath" in target:
        value = events_put.select(event, target["InputPath"])
        return b"null" if events_put.is_missing(value) else orjson.dumps(value)
    transformer = target.get("InputTransformer")
    if transformer:
        return _transform(transformer, event, job).encode()
    return orjson.dumps(event)


def _transform(transformer: dict[str, Any], event: dict[str, Any], job: dict[str, Any]) -> str:
    """InputTemplate with `<name>` replaced: strings as their text, other values as JSON."""
    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        value = events_put.select(event, path)
        if not events_put.is_missing(value):
            values[name] = value
    values["aws.events.event"] = event
    values["aws.events.event.json"] = event
    values["aws.events.rule-name"] = job.get("rule", "")
    values["aws.events.rule-arn"] = job.get("rule_arn", "")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return "" if name in (transformer.get("InputPathsMap") or {}) else match.group(0)
        value = values[name]
        return value if isinstance(value, str) else orjson.dumps(value).decode()

    return _PLACEHOLDER.sub(replace, str(transformer["InputTemplate"]))
