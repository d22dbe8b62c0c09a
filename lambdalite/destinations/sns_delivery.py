"""SNS deliveries as jobs of the one job loop (kind "sns-delivery"): one job per message and subscription.

`lambda`: an async invoke of the endpoint (qualifier honoured) with AWS's SNS event record; delivered
once the invoke is accepted (the function's own retries, DLQ and destinations are Lambda's). `sqs`: the
JSON envelope, or the raw message with its attributes. `http(s)`: a POST of the envelope (or raw body)
with AWS's x-amz-sns-* headers; a SubscriptionConfirmation job is sent the same way.

Retries follow the protocol's policy (destinations/sns_retry.py); client errors (endpoint gone, 4xx
other than 429) are not retried. A delivery given up goes to the subscription's RedrivePolicy queue
as a job of its own (what the endpoint would have got), else it is counted and logged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from lambdalite import arn
from lambdalite.accept import enqueue_event
from lambdalite.destinations import sns_metrics
from lambdalite.destinations.sns_message import (
    Spec,
    envelope,
    job,
    lambda_event,
    signature_version,
    signed_fields,
    sqs_attributes,
)
from lambdalite.destinations.sns_retry import MANAGED, Schedule, http_schedule
from lambdalite.destinations.sns_signing import Signer, signer
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.model.queue import Message
from lambdalite.model.sns import SNS_DELIVERY_KIND
from lambdalite.node import Node
from lambdalite.policy import JobLimits
from lambdalite.wakeups import JOBS

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 15.0
MAX_RAW_SQS_ATTRIBUTES = 10
_USER_AGENT = "Amazon Simple Notification Service Agent"


def _spec(job_message: Message) -> Spec:
    try:
        spec: Spec = orjson.loads(job_message.body)
    except orjson.JSONDecodeError:
        raise DeliveryError("undecodable SNS delivery job", permanent=True) from None
    return spec


def schedule(spec: Spec) -> Schedule:
    if spec["protocol"] in ("http", "https"):
        return http_schedule(spec.get("delivery_policy"), spec.get("topic_delivery_policy"))
    return MANAGED


class SnsDeliveryJobs:
    """The job loop's handler for SNS deliveries."""

    kind = SNS_DELIVERY_KIND

    def __init__(self, node: Node):
        self.node = node

    def limits(self, job_message: Message) -> JobLimits:
        """This attempt's delay as both the base and the cap of the loop's doubling rule: the loop then
        waits exactly the protocol's schedule (limits are asked per job, after each failed attempt)."""
        try:
            spec = _spec(job_message)
        except DeliveryError:
            return JobLimits(max_attempts=1, base_delay_s=0.0)
        if spec.get("to_dlq"):
            settings = self.node.settings
            return JobLimits(max_attempts=settings.delivery_attempts, base_delay_s=settings.delivery_retry_base_delay_s)
        plan = schedule(spec)
        delay_s = (plan.delay_s(job_message.receive_count) or 0.0) * self.node.settings.sns_retry_scale
        return JobLimits(max_attempts=plan.attempts, base_delay_s=delay_s, max_delay_s=delay_s)

    async def deliver(self, job_message: Message) -> None:
        spec = _spec(job_message)
        topic = sns_metrics.topic_name(spec["topic_arn"])
        if spec.get("to_dlq"):
            await self._to_dead_letter_queue(spec)
            return
        try:
            await deliver(self.node, spec)
        except DeliveryError as err:
            last = err.permanent or job_message.receive_count >= schedule(spec).attempts
            if not (last and spec.get("dlq") and spec["type"] == "Notification"):
                raise
            await self.node.store.enqueue_jobs([job({**spec, "to_dlq": True, "reason": str(err)},
                                                    f"{job_message.id}/dlq")])
            self.node.wakeups.notify(JOBS)
            log.info("sns: %s to %s failed (%s): sent to its dead-letter queue %s", spec["message_id"],
                     spec["endpoint"], err, spec["dlq"])
            return
        if spec["type"] == "Notification":
            sns_metrics.DELIVERED.labels(topic).inc()

    async def _to_dead_letter_queue(self, spec: Spec) -> None:
        body, attributes = await dead_letter_message(self.node, spec)
        try:
            await ports(self.node).send_sqs(spec["dlq"], body, attributes)
        except Fault as err:
            raise DeliveryError(f"{err.code}: {err.message}") from None
        sns_metrics.REDRIVEN.labels(sns_metrics.topic_name(spec["topic_arn"])).inc()

    def gave_up(self, job_message: Message, reason: str) -> None:
        try:
            spec = _spec(job_message)
        except DeliveryError:
            log.error("dropping undecodable SNS delivery job %s: %r", job_message.id, job_message.body)
            return
        sns_metrics.FAILED.labels(sns_metrics.topic_name(spec["topic_arn"])).inc()
        where = f"dead-letter queue {spec['dlq']}" if spec.get("to_dlq") else f"{spec['protocol']} {spec['endpoint']}"
        log.warning("sns: gave up delivering %s %s of %s to %s after %d attempt(s): %s; message: %s",
                    spec["type"], spec["message_id"], spec["topic_arn"], where, job_message.receive_count, reason,
                    spec["message"])


async def dead_letter_message(node: Node, spec: Spec) -> tuple[str, dict[str, dict[str, str]] | None]:
    """What the endpoint would have got: the raw message and attributes (raw delivery), else the envelope."""
    if spec["raw"]:
        return spec["message"], sqs_attributes(spec["attributes"]) or None
    return orjson.dumps(await _envelope(node, spec)).decode(), None


def _base_url(node: Node) -> str:
    return node.settings.function_endpoint_url


async def _signed(node: Node, spec: Spec) -> Signer:
    """The signer, with this notification's signature made on a worker thread (OpenSSL lets go of the
    GIL: the event loop goes on meanwhile); the payload builders then find it made."""
    signing = signer(node.settings.data_dir)
    if spec["type"] == "Notification":
        await asyncio.to_thread(signing.sign, signed_fields(spec), signature_version(spec))
    return signing


async def _envelope(node: Node, spec: Spec) -> dict[str, Any]:
    signing = await _signed(node, spec)
    base = _base_url(node)
    return envelope(spec, base, f"{base}/{signing.cert_name}", signing.sign)


async def deliver(node: Node, spec: Spec) -> None:
    """One try at one endpoint; DeliveryError (permanent for client errors) when it did not arrive."""
    protocol = spec["protocol"]
    if protocol == "lambda":
        await _to_lambda(node, spec)
    elif protocol == "sqs":
        await _to_sqs(node, spec)
    elif protocol in ("http", "https"):
        await _to_http(node, spec)
    else:
        raise DeliveryError(f"lambdalite does not deliver to {protocol} endpoints", permanent=True)


async def _to_lambda(node: Node, spec: Spec) -> None:
    signing = await _signed(node, spec)
    base = _base_url(node)
    event = lambda_event(spec, base, f"{base}/{signing.cert_name}", signing.sign)
    parsed = arn.parse(spec["endpoint"])
    region = parsed.region if parsed is not None and parsed.region else node.settings.default_region
    try:
        await enqueue_event(node, spec["endpoint"], orjson.dumps(event), region, spec.get("trace_id"))
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}", permanent=400 <= err.status < 500 and err.status != 429) \
            from None


async def _to_sqs(node: Node, spec: Spec) -> None:
    if spec["raw"]:
        if len(spec["attributes"]) > MAX_RAW_SQS_ATTRIBUTES:
            raise DeliveryError("raw delivery of more than 10 message attributes to SQS", permanent=True)
        body, attributes = spec["message"], sqs_attributes(spec["attributes"]) or None
    else:
        body, attributes = orjson.dumps(await _envelope(node, spec)).decode(), None
    try:
        await ports(node).send_sqs(spec["endpoint"], body, attributes)
    except Fault as err:
        raise DeliveryError(f"{err.code}: {err.message}", permanent=400 <= err.status < 500 and err.status != 429) \
            from None


async def _to_http(node: Node, spec: Spec) -> None:
    headers = {
        "Content-Type": "text/plain; charset=UTF-8", "User-Agent": _USER_AGENT,
        "x-amz-sns-message-type": spec["type"], "x-amz-sns-message-id": spec["message_id"],
        "x-amz-sns-topic-arn": spec["topic_arn"],
    }
    if spec["type"] == "Notification":
        headers["x-amz-sns-subscription-arn"] = spec["subscription_arn"]
    if spec["raw"] and spec["type"] == "Notification":
        headers["x-amz-sns-rawdelivery"] = "true"
        body = spec["message"].encode()
    else:
        body = orjson.dumps(await _envelope(node, spec))
    status = await _post(spec["endpoint"], body, headers)
    if 200 <= status < 300:
        return
    raise DeliveryError(f"HTTP {status} from {spec['endpoint']}", permanent=400 <= status < 500 and status != 429)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST on a connection of its own (asyncio, no thread); the status, 0 when none came in time.

    Only the status line is read: SNS judges a delivery by its status alone. Credentials in the URL
    (`https://user:password@host/`) are sent as Basic authentication, as AWS does.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.hostname}:{port}", f"Content-Length: {len(body)}",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    if parts.username is not None:
        login = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        lines.append("Authorization: Basic " + base64.b64encode(login).decode())
    try:
        async with asyncio.timeout(HTTP_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                parts.hostname, port, ssl=ssl.create_default_context() if secure else None)
            try:
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                return int((await reader.readline()).split()[1])
            finally:
                writer.close()
    except (OSError, TimeoutError, ValueError, IndexError, UnicodeEncodeError) as err:
        log.info("sns: POST to %s failed: %r", url, err)
        return 0
