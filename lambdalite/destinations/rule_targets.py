"""EventBridge rule targets as jobs of the one job loop (kind "events-target").

Each job is one matched event for one target (SQS message, Lambda async invoke, another bus), with
the payload the target asked for (Input / InputPath / InputTransformer). A retryable failure is retried
with exponential backoff (the throttle backoff settings) until the target's RetryPolicy (attempts,
event age) runs out. Like AWS, a missing or refusing resource (a 4xx other than throttling) is not
retried. An event given up on goes to the target's DeadLetterConfig queue when it has one (the event as
the body, AWS's RULE_ARN / TARGET_ARN / ERROR_CODE / ERROR_MESSAGE / EXHAUSTED_RETRY_CONDITION /
RETRY_ATTEMPTS attributes), as a job of its own; otherwise it is dropped with a warning. Jobs survive
restarts (at-least-once).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

from lambdalite import arn, jsonpath
from lambdalite.accept import enqueue_event
from lambdalite.clock import now_ms
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.model.event import RULE_TARGET_KIND
from lambdalite.model.queue import Message, NewMessage
from lambdalite.node import Node
from lambdalite.policy import JobLimits, exhausted_limit, job_retry_delay_ms
from lambdalite.wakeups import JOBS

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
# AWS's default target RetryPolicy.
DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_AGE_S = 86_400
_UNSUPPORTED = "ValidationException"  # the code of a target type lambdalite does not deliver to


class RuleTargetJobs:
    """The job loop's handler for EventBridge rule targets: the target's RetryPolicy (retry attempts,
    event age) with the throttle backoff settings as its delays."""

    kind = RULE_TARGET_KIND

    def __init__(self, node: Node):
        self.node = node

    def limits(self, job: Message) -> JobLimits:
        settings = self.node.settings
        spec = _decoded(job)
        if "dead_letter" in spec:  # a dead-letter message: the delivery settings of lambdalite's own writes
            return JobLimits(max_attempts=settings.delivery_attempts, base_delay_s=settings.delivery_retry_base_delay_s)
        attempts, age_s = _retry_policy(spec)
        return JobLimits(max_attempts=attempts + 1, base_delay_s=settings.throttle_base_delay_s,
                         max_delay_s=settings.throttle_max_delay_s, max_age_s=age_s)

    async def deliver(self, job: Message) -> None:
        try:
            spec = orjson.loads(job.body)
        except orjson.JSONDecodeError:
            raise DeliveryError("undecodable rule target job", permanent=True) from None
        if "dead_letter" in spec:
            await _send_dead_letter(self.node, spec)
            return
        try:
            await deliver(self.node, spec)
        except Fault as err:  # like AWS: a missing or refusing resource (4xx but throttling) is not retried
            failure = DeliveryError(f"{err.code}: {err.message}",
                                    permanent=400 <= err.status < 500 and err.status != 429)
            if not await self._dead_lettered(job, spec, err, failure):
                raise failure from None

    async def _dead_lettered(self, job: Message, spec: dict[str, Any], err: Fault, failure: DeliveryError) -> bool:
        """The last failure of a target with a DeadLetterConfig: queue the dead-letter message (True)."""
        dlq = (spec.get("target", {}).get("DeadLetterConfig") or {}).get("Arn")
        limits, age_ms = self.limits(job), now_ms() - job.sent_ms
        if not dlq or job_retry_delay_ms(job.receive_count, age_ms, limits, permanent=failure.permanent) is not None:
            return False
        attributes = {"RULE_ARN": spec.get("rule_arn", ""), "TARGET_ARN": spec["target"]["Arn"],
                      "ERROR_CODE": error_code(err), "ERROR_MESSAGE": err.message,
                      "RETRY_ATTEMPTS": str(max(job.receive_count - 1, 0))}
        condition = None if failure.permanent else exhausted_limit(job.receive_count, age_ms, limits)
        if condition is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        letter = {"dead_letter": {"queue": dlq, "attributes": attributes}, "event": spec["event"],
                  "rule": spec.get("rule"), "target": spec["target"]}
        await self.node.store.enqueue_jobs([NewMessage(RULE_TARGET_KIND, RULE_TARGET_KIND, f"{job.id}/dlq",
                                                       orjson.dumps(letter))])
        self.node.wakeups.notify(JOBS)
        log.info("events: delivery of %s to %s (rule %s) failed (%s): sent to its dead-letter queue %s",
                 spec["event"].get("id"), spec["target"]["Arn"], spec.get("rule"), failure, dlq)
        return True

    def gave_up(self, job: Message, reason: str) -> None:
        spec = _decoded(job)
        where = f"dead-letter queue {spec['dead_letter'].get('queue')}" if "dead_letter" in spec else \
            spec.get("target", {}).get("Arn")
        log.warning("events: dropping delivery of %s to %s (rule %s) after %d attempt(s): %s",
                    spec.get("event", {}).get("id"), where, spec.get("rule"), job.receive_count, reason)


def error_code(err: Fault) -> str:
    """EventBridge's ERROR_CODE for a target's failure."""
    if err.status == 429 or "Throttl" in err.code or "TooManyRequests" in err.code:
        return "THROTTLING"
    if err.status == 404 or "NotFound" in err.code or "NonExistent" in err.code or "DoesNotExist" in err.code:
        return "NO_RESOURCE"
    if err.code in ("AccessDenied", "AccessDeniedException"):
        return "NO_PERMISSIONS"
    if err.code == _UNSUPPORTED:
        return "UNSUPPORTED_OPERATION"
    return "ERROR_FROM_TARGET"


async def _send_dead_letter(node: Node, spec: dict[str, Any]) -> None:
    letter = spec["dead_letter"]
    attributes = {name: {"DataType": "String", "StringValue": value} for name, value in letter["attributes"].items()}
    try:
        await ports(node).send_sqs(letter["queue"], orjson.dumps(spec["event"]).decode(), attributes)
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}") from None


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


def _decoded(job: Message) -> dict[str, Any]:
    try:
        spec = orjson.loads(job.body)
    except orjson.JSONDecodeError:
        return {}
    return spec if isinstance(spec, dict) else {}


def _retry_policy(spec: dict[str, Any]) -> tuple[int, int]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds) the job was queued with (0, 0: give up at once)."""
    try:
        return int(spec.get("max_retries", 0)), int(spec.get("max_age_s", 0))
    except (TypeError, ValueError):
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
        raise Fault(400, _UNSUPPORTED, f"Target type {service} is not supported by lambdalite.")


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
