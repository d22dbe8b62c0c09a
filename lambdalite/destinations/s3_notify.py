"""S3 bucket notifications as jobs of the one job loop (kind "s3-notification").

Each job was committed with the object change that caused it and carries the finished payload for one
configuration: a Lambda function (async invoke: retries, event age, destinations and DLQ apply), an SQS
queue (the message body), an SNS topic (Publish, subject "Amazon S3 Notification"), or the default
EventBridge bus. Failures are retried with the delivery settings'
backoff (at least once); a missing target (a 4xx) is not retried, as AWS drops those too.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import orjson
from prometheus_client import Counter

from lambdalite.accept import enqueue_event
from lambdalite.clock import now_ms
from lambdalite.destinations.sns_message import Published
from lambdalite.destinations.sns_publish import publish
from lambdalite.destinations.targets import DeliveryError, ports
from lambdalite.faults import Fault
from lambdalite.metrics import REGISTRY
from lambdalite.model.queue import Message
from lambdalite.model.s3 import NOTIFICATION_KIND
from lambdalite.node import Node
from lambdalite.policy import JobLimits

log = logging.getLogger(__name__)

SUBJECT = "Amazon S3 Notification"
_MESSAGE_IDS = uuid.UUID("2f7d3c55-0b1e-4f2a-8f55-3c1b9e6a7d10")

_LABELS = ("bucket", "target")
DELIVERED = Counter("s3_NotificationsDelivered", "Bucket notifications handed to their target (lambda: queued "
                    "as an async event)", _LABELS, registry=REGISTRY)
DROPPED = Counter("s3_NotificationsDropped", "Bucket notifications given up (target missing or refusing)", _LABELS,
                  registry=REGISTRY)


class S3NotificationJobs:
    kind = NOTIFICATION_KIND

    def __init__(self, node: Node):
        self.node = node

    def limits(self, job: Message) -> JobLimits:
        settings = self.node.settings
        return JobLimits(max_attempts=settings.delivery_attempts, base_delay_s=settings.delivery_retry_base_delay_s)

    async def deliver(self, job: Message) -> None:
        try:
            spec: dict[str, Any] = orjson.loads(job.body)
        except orjson.JSONDecodeError:
            raise DeliveryError("undecodable S3 notification job", permanent=True) from None
        try:
            await deliver(self.node, spec, job.id)
        except Fault as err:
            permanent = 400 <= err.status < 500 and err.status != 429
            raise DeliveryError(f"{err.code}: {err.message}", permanent=permanent) from None
        DELIVERED.labels(job.queue.removeprefix("@s3/"), spec.get("kind", "?")).inc()

    def gave_up(self, job: Message, reason: str) -> None:
        kind = "?"
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            kind = str(orjson.loads(job.body).get("kind", "?"))
        DROPPED.labels(job.queue.removeprefix("@s3/"), kind).inc()
        log.warning("s3: dropping notification job %s (queue %s) after %d attempt(s): %s; payload: %s",
                    job.id, job.queue, job.receive_count, reason, job.body.decode("utf-8", "replace"))


async def _publish(node: Node, topic_arn: str, message: str, trace_id: str | None, job_id: str) -> None:
    """SNS Publish with AWS's subject; the message id is derived from the job (a rerun does not fan out twice)."""
    published = Published(str(uuid.uuid5(_MESSAGE_IDS, job_id)), topic_arn, message, SUBJECT, {}, now_ms(),
                          trace_id=trace_id)
    if not await publish(node, published):
        raise Fault(404, "NotFound", f"Topic does not exist: {topic_arn}")


async def deliver(node: Node, spec: dict[str, Any], job_id: str = "") -> None:
    kind, target, region = spec["kind"], spec["arn"], spec["region"]
    payload = orjson.dumps(spec["payload"])
    if kind == "lambda":
        await enqueue_event(node, target, payload, region, spec.get("trace_id"))
    elif kind == "queue":
        await ports(node).send_sqs(target, payload.decode(), None)
    elif kind == "topic":
        await _publish(node, target, payload.decode(), spec.get("trace_id"), job_id)
    elif kind == "eventbridge":
        results = await ports(node).put_events(region, [spec["payload"]], spec.get("trace_id"))
        if results and "ErrorCode" in results[0]:
            raise Fault(400, results[0]["ErrorCode"], results[0].get("ErrorMessage", ""))
    else:
        raise DeliveryError(f"lambdalite does not serve {kind} notification targets: cannot deliver to {target}",
                            permanent=True)
