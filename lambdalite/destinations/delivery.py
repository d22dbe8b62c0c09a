"""Destination and dead-letter deliveries as jobs of the one job loop (kind "delivery").

A job carries an ended event's outcome and one target (destinations/job.py). Delivery builds the
record and sends it; a failure is retried `delivery_attempts` times with doubling delays, then given
up: counted (`DestinationDeliveryFailures` / `DeadLetterErrors`) and logged at WARNING with the whole
payload it carried.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from lambdalite import arn, metrics
from lambdalite.clock import now_ms
from lambdalite.destinations import dead_letter, eventbridge, lambda_, sns, sqs
from lambdalite.destinations.job import Side, Target
from lambdalite.destinations.record import dead_letter_message, record_bytes
from lambdalite.destinations.targets import DeliveryError, unsupported
from lambdalite.model.event import DELIVERY_KIND
from lambdalite.model.history import ERROR_MESSAGE_MAX_CHARS, DeliveryRecord
from lambdalite.model.outcome import Outcome
from lambdalite.model.queue import Message
from lambdalite.node import Node
from lambdalite.policy import JobLimits

log = logging.getLogger(__name__)


async def deliver(node: Node, outcome: Outcome, target: Target) -> None:
    """Send one outcome to one target; raises DeliveryError when it did not arrive."""
    if target.side is Side.DEAD_LETTER:
        await dead_letter.deliver(node, outcome, target.arn)
        return
    service = arn.service_of(target.arn)
    if service == "sqs":
        await sqs.deliver(node, outcome, target.arn)
    elif service == "lambda":
        await lambda_.deliver(node, outcome, target.arn)
    elif service == "events":
        await eventbridge.deliver(node, outcome, target.arn)
    elif service == "sns":
        await sns.deliver(node, outcome, target.arn, target.side.value)
    else:  # s3: accepted at configuration time, not served by lambdalite yet
        raise unsupported(service, target.arn)


def describe_payload(outcome: Outcome, target: Target) -> str:
    """What the target should have received (for the give-up log line)."""
    if target.side is Side.DEAD_LETTER:
        body, attributes = dead_letter_message(outcome)
        return orjson.dumps({"body": body, "messageAttributes": attributes}).decode()
    return record_bytes(outcome).decode()


def _decode(job: Message) -> tuple[Outcome, Target]:
    try:
        return Outcome.from_json(job.body), Target.from_attrs(job.attrs)
    except Exception:  # noqa: BLE001 - a job nobody can read: given up at once, and said loudly
        raise DeliveryError("undecodable delivery job", permanent=True) from None


class DestinationJobs:
    """The job loop's handler for destination and DLQ deliveries."""

    kind = DELIVERY_KIND

    def __init__(self, node: Node):
        self.node = node
        self._pending: set[asyncio.Task[None]] = set()  # history lines of given-up deliveries being written

    def limits(self, job: Message) -> JobLimits:
        settings = self.node.settings
        return JobLimits(max_attempts=settings.delivery_attempts, base_delay_s=settings.delivery_retry_base_delay_s)

    async def deliver(self, job: Message) -> None:
        outcome, target = _decode(job)
        await deliver(self.node, outcome, target)
        await self._record(DeliveryRecord(outcome.request_id, target.side.value, target.arn, True,
                                          job.receive_count, now_ms()))

    async def _record(self, delivery: DeliveryRecord) -> None:
        """The event history's line for this delivery (a lost line loses no delivery: logged only)."""
        try:
            await self.node.store.record_delivery(delivery)
        except Exception:
            log.warning("could not record delivery of %s to the event history", delivery.request_id, exc_info=True)

    def gave_up(self, job: Message, reason: str) -> None:
        try:
            outcome, target = _decode(job)
        except DeliveryError:
            log.error("dropping undecodable delivery job %s: body=%r attrs=%r", job.id, job.body, job.attrs)
            return
        record = DeliveryRecord(outcome.request_id, target.side.value, target.arn, False, job.receive_count,
                                now_ms(), reason[:ERROR_MESSAGE_MAX_CHARS])
        self._pending.add(task := asyncio.get_running_loop().create_task(self._record(record)))
        task.add_done_callback(self._pending.discard)
        counter = metrics.DEAD_LETTER_ERRORS if target.side is Side.DEAD_LETTER else metrics.DESTINATION_FAILURES
        counter.labels(function_name=outcome.function).inc()
        log.warning(
            "gave up delivering %s (%s, condition %s) of function %s to %s after %d attempt(s): %s; payload: %s",
            outcome.request_id, target.side.value, outcome.condition.value, outcome.function, target.arn,
            job.receive_count, reason, describe_payload(outcome, target),
        )
