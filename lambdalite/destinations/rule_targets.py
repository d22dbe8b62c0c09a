"""EventBridge rule targets as jobs of the one job loop (kind "events-target").

Each job is one matched event for one target (SQS message, Lambda async invoke, another bus), with
the payload the target asked for (Input / InputPath / InputTransformer). A retryable failure is retried
with exponential backoff (the throttle backoff settings) until the target's RetryPolicy (attempts,
event age) runs out, then dropped with a warning. Like AWS, a missing or refusing resource (a 4xx other
than throttling) is not retried. Jobs survive restarts (at-least-once).
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import orjson

from lambdalite import arn, jsonpath
from lambdalite.accept import enqueue_event
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.model.event import RULE_TARGET_KIND
from lambdalite.model.queue import Message
from lambdalite.node import Node
from lambdalite.policy import JobLimits

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
# AWS's default target RetryPolicy.
DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_AGE_S = 86_400


class RuleTargetJobs:
    """The job loop's handler for EventBridge rule targets: the target's RetryPolicy (retry attempts,
    event age) with the throttle backoff settings as its delays."""

    kind = RULE_TARGET_KIND

    def __init__(self, node: Node):
        self.node = node

    def limits(self, job: Message) -> JobLimits:
        settings = self.node.settings
        attempts, age_s = _retry_policy(job)
        return JobLimits(max_attempts=attempts + 1, base_delay_s=settings.throttle_base_delay_s,
                         max_delay_s=settings.throttle_max_delay_s, max_age_s=age_s)

    async def deliver(self, job: Message) -> None:
        try:
            spec = orjson.loads(job.body)
        except orjson.JSONDecodeError:
            raise DeliveryError("undecodable rule target job", permanent=True) from None
        try:
            await deliver(self.node, spec)
        except Fault as err:  # like AWS: a missing or refusing resource (4xx but throttling) is not retried
            raise DeliveryError(f"{err.code}: {err.message}", permanent=400 <= err.status < 500 and err.status != 429) \
                from None

    def gave_up(self, job: Message, reason: str) -> None:
        spec: dict[str, Any] = {}
        with contextlib.suppress(orjson.JSONDecodeError):
            spec = orjson.loads(job.body)
        log.warning("events: dropping delivery of %s to %s (rule %s) after %d attempt(s): %s",
                    spec.get("event", {}).get("id"), spec.get("target", {}).get("Arn"), spec.get("rule"),
                    job.receive_count, reason)


def job_body(event: dict[str, Any], region: str, rule: str, rule_arn: str, target: dict[str, Any],
             trace_id: str | None = None) -> bytes:
    """One rule target job (what `deliver` reads), with the target's RetryPolicy or AWS's default."""
    policy = target.get("RetryPolicy") or {}
    return orjson.dumps({
        "event": event, "region": region, "trace_id": trace_id, "rule": rule, "rule_arn": rule_arn,
        "target": target,
        "max_retries": int(policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
        "max_age_s": int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)),
    })


def _retry_policy(job: Message) -> tuple[int, int]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds) the job was queued with (0, 0: give up at once)."""
    try:
        spec = orjson.loads(job.body)
        return int(spec.get("max_retries", 0)), int(spec.get("max_age_s", 0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 0, 0


# ---- one delivery -------------------------------------------------------------------------------


async def deliver(node: Node, job: dict[str, Any]) -> None:
    """Deliver one job to its target; raise on failure."""
    target, event, region = job["target"], job["event"], job["region"]
    target_arn: str = target["Arn"]
    service = arn.service_of(target_arn)
    if service == "events":
        await _to_bus(node, region, target_arn, event, job.get("trace_id"))
        return
    payload = target_payload(target, event, job)
    if service == "sqs":
        await ports(node).send_sqs(target_arn, payload.decode(), None)
    elif service == "lambda":
        await enqueue_event(node, target_arn, payload, region, job.get("trace_id"))
    else:
        raise Fault(400, "ValidationException", f"Target type {service} is not supported by lambdalite.")


async def _to_bus(node: Node, region: str, bus_arn: str, event: dict[str, Any], trace_id: str | None) -> None:
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": orjson.dumps(event["detail"]).decode(),
        "Resources": event.get("resources") or [],
        "Time": event["time"],
        "EventBusName": bus_arn,
    }
    results = await ports(node).put_events(region, [entry], trace_id)
    if results and "ErrorCode" in results[0]:
        raise Fault(400, results[0]["ErrorCode"], results[0].get("ErrorMessage", ""))


def target_payload(target: dict[str, Any], event: dict[str, Any], job: dict[str, Any]) -> bytes:
    """What the target receives: the event, or the target's Input / InputPath / InputTransformer."""
    if "Input" in target:
        return str(target["Input"]).encode()
    if "InputPath" in target:
        value = jsonpath.select(event, target["InputPath"])
        return b"null" if jsonpath.is_missing(value) else orjson.dumps(value)
    transformer = target.get("InputTransformer")
    if transformer:
        return _transform(transformer, event, job).encode()
    return orjson.dumps(event)


def _transform(transformer: dict[str, Any], event: dict[str, Any], job: dict[str, Any]) -> str:
    """InputTemplate with `<name>` replaced: strings as their text, other values as JSON."""
    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        value = jsonpath.select(event, path)
        if not jsonpath.is_missing(value):
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
