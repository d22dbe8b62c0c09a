"""Sending to an SQS queue from inside lambdalite (destinations, dead-letter queues, EventBridge targets).

`deliver_message` is the async, self-committing form; `send_in_tx` joins the caller's writer transaction
so a delivery is enqueued atomically with other writes (call `notify_arrival` after the commit to wake
long polls at once; without it they notice within the cross-process poll interval).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from lambdalite.node import Node
from lambdalite.services.sqs import errors, wakeups
from lambdalite.services.sqs.send import insert, prepare
from lambdalite.store.sqlite import sqs as sqs_db

_SENDER = "AIDAIENQZJOLO23YVJ4VO"  # what a service-sent message reports as SenderId


def _send(conn: sqlite3.Connection, queue_arn: str, body: str, attrs: dict[str, dict[str, Any]] | None) -> str:
    if queue_arn.endswith(".fifo"):
        raise errors.fifo_unsupported()
    record = sqs_db.get_by_arn(conn, queue_arn)
    if record is None:
        raise errors.no_queue()
    # An empty value (say, an empty ErrorMessage) would fail validation: leave that attribute out instead.
    kept = {k: v for k, v in (attrs or {}).items() if v.get("StringValue") != "" and v.get("BinaryValue") != ""}
    prepared = prepare(record, {"MessageBody": body, "MessageAttributes": kept}, _SENDER)
    insert(conn, record.arn, [prepared])
    return prepared.id


def send_in_tx(
    conn: sqlite3.Connection, queue_arn: str, body: str, attrs: dict[str, dict[str, Any]] | None = None
) -> str:
    """Enqueue inside the caller's transaction; returns the message id. Raises SqsError (an AwsError)."""
    return _send(conn, queue_arn, body, attrs)


async def deliver_message(
    node: Node, queue_arn: str, body: str, message_attributes: dict[str, dict[str, Any]] | None = None
) -> str:
    """Enqueue and commit; returns the message id. QueueDoesNotExist / UnsupportedOperation (FIFO) raise."""
    message_id = await node.store.db.write(lambda conn: _send(conn, queue_arn, body, message_attributes))
    wakeups.notify(queue_arn)
    return message_id


def notify_arrival(queue_arn: str) -> None:
    """Wake this process's long polls on a queue (after committing a `send_in_tx`)."""
    wakeups.notify(queue_arn)


def queue_exists(node: Node, queue_arn: str) -> bool:
    return node.store.db.read(lambda conn: sqs_db.get_by_arn(conn, queue_arn)) is not None
