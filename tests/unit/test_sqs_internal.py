"""The internal send API (destinations, dead-letter queues) and the receive transaction, on a real store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lambdalite.node import Node
from lambdalite.services.sqs import deliver_message, errors, queue_exists, send_in_tx
from lambdalite.services.sqs.queue_attributes import DEFAULTS
from lambdalite.services.sqs.receive import _lease_batch
from lambdalite.settings import Settings
from lambdalite.store.sqlite import SqliteStore, queues
from lambdalite.store.sqlite import sqs as sqs_db
from lambdalite.store.sqlite.sqs import QueueRecord

ARN = "arn:aws:sqs:us-east-1:000000000000:"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    store = SqliteStore(Settings(data_dir=tmp_path / "data"))
    yield Node(settings=store.settings, store=store, pool=None)  # type: ignore[arg-type]
    store.close()


def _queue(node: Node, name: str, **attrs: str) -> QueueRecord:
    record = QueueRecord("us-east-1", name, ARN + name, {**DEFAULTS, **attrs}, {}, 0, 0)
    node.store.db.write_sync(lambda c: sqs_db.insert(c, record))
    return record


def test_deliver_message_enqueues_with_attributes(node: Node) -> None:
    record = _queue(node, "dest")
    attrs = {"RequestID": {"DataType": "String", "StringValue": "r-1"},
             "ErrorCode": {"DataType": "Number", "StringValue": "200"}}
    message_id = asyncio.run(deliver_message(node, record.arn, '{"a": 1}', attrs))
    message = node.store.db.read(lambda c: queues.get(c, message_id))
    assert message is not None and message.queue == record.arn and message.body == b'{"a": 1}'
    assert orjson.loads(message.attrs or b"{}")["a"] == attrs
    assert queue_exists(node, record.arn) and not queue_exists(node, ARN + "nope")


def test_deliver_message_failures(node: Node) -> None:
    with pytest.raises(errors.SqsError) as exc:
        asyncio.run(deliver_message(node, ARN + "missing", "x"))
    assert exc.value.code == "QueueDoesNotExist"
    with pytest.raises(errors.SqsError) as exc:
        asyncio.run(deliver_message(node, ARN + "orders.fifo", "x"))
    assert exc.value.code == "UnsupportedOperation"


def test_send_in_tx_joins_the_callers_transaction(node: Node) -> None:
    record = _queue(node, "atomic")

    def fn(conn: Any) -> str:
        send_in_tx(conn, record.arn, "one")
        raise RuntimeError("caller fails after sending")

    with pytest.raises(RuntimeError):
        node.store.db.write_sync(fn)
    assert node.store.queue_counts(record.arn).visible == 0
    node.store.db.write_sync(lambda c: send_in_tx(c, record.arn, "two"))
    assert node.store.queue_counts(record.arn).visible == 1


def test_receive_expires_messages_past_retention(node: Node) -> None:
    record = _queue(node, "retained", MessageRetentionPeriod="60")
    old_ms = int(time.time() * 1000) - 61_000
    node.store.db.write_sync(lambda c: queues.send(c, kind="sqs", queue=record.arn, id="old", body=b"o", at_ms=old_ms))
    node.store.db.write_sync(lambda c: queues.send(c, kind="sqs", queue=record.arn, id="new", body=b"n"))
    got = node.store.db.write_sync(lambda c: _lease_batch(c, record, 10, 30_000))
    assert [m.id for m in got] == ["new"]
    assert node.store.db.read(lambda c: queues.get(c, "old")) is None


def test_internal_send_leaves_out_empty_attributes(node: Node) -> None:
    record = _queue(node, "lenient")
    attrs = {"ErrorMessage": {"DataType": "String", "StringValue": ""},
             "ErrorCode": {"DataType": "Number", "StringValue": "200"}}
    message_id = node.store.db.write_sync(lambda c: send_in_tx(c, record.arn, "body", attrs))
    message = node.store.db.read(lambda c: queues.get(c, message_id))
    assert message is not None
    assert set(orjson.loads(message.attrs or b"{}")["a"]) == {"ErrorCode"}
