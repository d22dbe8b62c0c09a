"""The internal send API (destinations, dead-letter queues, rule targets: `deliver_message`) on a real
store of every backend: validated and stored as a client's SendMessage would be."""

from __future__ import annotations

import orjson
import pytest

from lambdalite.model.queue import Message
from lambdalite.model.sqs import QueueRecord
from lambdalite.node import Node
from lambdalite.services.sqs import deliver_message, errors
from lambdalite.services.sqs.queue_attributes import DEFAULTS
from lambdalite.store.protocol import Store
from tests.support.backends import Backend

ARN = "arn:aws:sqs:us-east-1:000000000000:"


@pytest.fixture
def node(backend: Backend, store: Store) -> Node:
    return Node(settings=backend.settings(), store=store, pool=None)  # type: ignore[arg-type]


async def _queue(node: Node, name: str, **attrs: str) -> QueueRecord:
    record = QueueRecord("us-east-1", name, ARN + name, {**DEFAULTS, **attrs}, {}, 0, 0)
    assert await node.store.sqs_create_queue(record) is None
    return record


async def _received(node: Node, arn: str) -> list[Message]:
    return await node.store.sqs_receive(arn, retention_s=60, redrive=None, limit=10, visibility_ms=30_000)


async def test_deliver_message_enqueues_with_attributes(node: Node) -> None:
    record = await _queue(node, "dest")
    attrs = {"RequestID": {"DataType": "String", "StringValue": "r-1"},
             "ErrorCode": {"DataType": "Number", "StringValue": "200"}}
    message_id = await deliver_message(node, record.arn, '{"a": 1}', attrs)
    [message] = await _received(node, record.arn)
    assert message.id == message_id and message.queue == record.arn and message.body == b'{"a": 1}'
    assert orjson.loads(message.attrs or b"{}")["a"] == attrs
    assert await node.store.sqs_queue_by_arn(record.arn) is not None
    assert await node.store.sqs_queue_by_arn(ARN + "nope") is None


async def test_deliver_message_failures(node: Node) -> None:
    with pytest.raises(errors.SqsError) as exc:
        await deliver_message(node, ARN + "missing", "x")
    assert exc.value.code == "QueueDoesNotExist"
    with pytest.raises(errors.SqsError) as exc:
        await deliver_message(node, ARN + "orders.fifo", "x")
    assert exc.value.code == "UnsupportedOperation"


async def test_a_send_to_a_queue_deleted_meanwhile_stores_nothing(node: Node) -> None:
    """The send is one unit of work with the queue's existence (was: joined the caller's transaction)."""
    record = await _queue(node, "atomic")
    await node.store.sqs_delete_queue(record.arn)
    with pytest.raises(errors.SqsError) as exc:
        await deliver_message(node, record.arn, "one")
    assert exc.value.code == "QueueDoesNotExist"
    await _queue(node, "atomic")
    assert (await node.store.sqs_counts(record.arn, 60)).visible == 0
    await deliver_message(node, record.arn, "two")
    assert (await node.store.sqs_counts(record.arn, 60)).visible == 1


async def test_internal_send_leaves_out_empty_attributes(node: Node) -> None:
    record = await _queue(node, "lenient")
    attrs = {"ErrorMessage": {"DataType": "String", "StringValue": ""},
             "ErrorCode": {"DataType": "Number", "StringValue": "200"}}
    await deliver_message(node, record.arn, "body", attrs)
    [message] = await _received(node, record.arn)
    assert set(orjson.loads(message.attrs or b"{}")["a"]) == {"ErrorCode"}
