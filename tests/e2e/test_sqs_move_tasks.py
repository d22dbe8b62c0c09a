"""StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask with boto3: a DLQ's messages go back
to the queue they were dead-lettered from (or to DestinationArn), counts match, and the errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.sqs_support import attrs, error_of, unique
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

srv = module_server("sqs-move-tasks")
sqs = module_client("sqs", server="srv")


def arn_of(sqs: Any, url: str) -> str:
    return attrs(sqs, url, "QueueArn")["QueueArn"]


def count(sqs: Any, url: str) -> int:
    return int(attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])


def dead_lettered(sqs: Any, messages: int) -> tuple[str, str]:
    """A source queue whose `messages` messages were each received once too often: all in its DLQ."""
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy,
                                                                   "VisibilityTimeout": "0"})["QueueUrl"]
    for i in range(messages):
        sqs.send_message(QueueUrl=source, MessageBody=f"m{i}",
                         MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}})

    def all_dead_lettered() -> bool:
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)  # the second receive moves them
        return count(sqs, dlq) == messages

    wait_until(all_dead_lettered, timeout_s=30, what="messages dead-lettered")
    return source, dlq


def test_a_move_task_returns_dead_lettered_messages_to_their_source(sqs: Any) -> None:
    source, dlq = dead_lettered(sqs, 5)
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))["TaskHandle"]
    assert handle

    def completed() -> dict[str, Any] | None:
        [task] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq), MaxResults=10)["Results"]
        return task if task["Status"] == "COMPLETED" else None

    task = wait_until(completed, timeout_s=30, what="the task to complete")
    assert task["ApproximateNumberOfMessagesMoved"] == 5 and task["ApproximateNumberOfMessagesToMove"] == 5
    assert task["SourceArn"] == arn_of(sqs, dlq) and "TaskHandle" not in task and "DestinationArn" not in task
    assert count(sqs, dlq) == 0 and count(sqs, source) == 5
    got = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                              AttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in got) == [f"m{i}" for i in range(5)]
    assert all("DeadLetterQueueSourceArn" not in m["Attributes"] for m in got)
    assert {m["MessageAttributes"]["n"]["StringValue"] for m in got} == {str(i) for i in range(5)}


def test_a_move_task_to_a_destination_at_a_rate_and_cancelled(sqs: Any) -> None:
    _, dlq = dead_lettered(sqs, 10)  # at one a second, the task is still running when cancelled
    other = sqs.create_queue(QueueName=unique("other"))["QueueUrl"]
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, other),
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    [running] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
    assert (running["Status"], running["TaskHandle"], running["DestinationArn"], running["MaxNumberOfMessagesPerSecond"]) == (
        "RUNNING", handle, arn_of(sqs, other), 1)
    with pytest.raises(sqs.exceptions.ClientError) as exc:
        sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))
    assert error_of(exc.value)[0] == "AWS.SimpleQueueService.UnsupportedOperation"
    wait_until(lambda: count(sqs, other) >= 1, timeout_s=30, what="one message moved")
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 1 <= moved < 10
    [cancelled] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
    assert cancelled["Status"] == "CANCELLED" and cancelled["ApproximateNumberOfMessagesMoved"] == moved
    assert count(sqs, other) == moved and count(sqs, dlq) == 10 - moved


def test_move_task_errors(sqs: Any) -> None:
    plain = sqs.create_queue(QueueName=unique("plain"))["QueueUrl"]
    missing = "arn:aws:sqs:us-east-1:000000000000:no-such-queue"
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.start_message_move_task(SourceArn=missing)
    with pytest.raises(sqs.exceptions.ClientError) as exc:
        sqs.start_message_move_task(SourceArn=arn_of(sqs, plain))
    assert error_of(exc.value)[:2] == ("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    _, dlq = dead_lettered(sqs, 1)
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), DestinationArn=missing)
    with pytest.raises(sqs.exceptions.ClientError) as exc:
        sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), MaxNumberOfMessagesPerSecond=501)
    assert error_of(exc.value)[0] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.cancel_message_move_task(TaskHandle="bm90LWEtdGFzaw==")
    assert sqs.list_message_move_tasks(SourceArn=arn_of(sqs, plain))["Results"] == []


def received_bodies(sqs: Any, url: str, expected: int) -> list[str]:
    bodies: list[str] = []

    def all_in() -> bool:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        bodies.extend(m["Body"] for m in got)
        return len(bodies) >= expected

    wait_until(all_in, timeout_s=30, what=f"{expected} messages received")
    return bodies


def test_a_move_task_survives_kill_9_and_goes_on_where_it_stopped(tmp_path: Path) -> None:
    """The task is kept in the store: after a crash of the process moving it, the restarted process takes
    it over once its lease has passed and moves the rest (at most the batch in hand twice)."""
    node = LambdaliteProcess(tmp_path / "data", env={"LAMBDALITE_LEASE_SECONDS": "2"}).start()
    try:
        sqs = node.client("sqs")
        _, dlq = dead_lettered(sqs, 6)
        other = sqs.create_queue(QueueName=unique("other"))["QueueUrl"]
        sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, other),
                                    MaxNumberOfMessagesPerSecond=1)
        wait_until(lambda: count(sqs, other) >= 2, timeout_s=30, what="two messages moved")
        node.kill()
        node.start()
        sqs = node.client("sqs")

        def completed() -> dict[str, Any] | None:
            [task] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
            return task if task["Status"] == "COMPLETED" else None

        task = wait_until(completed, timeout_s=60, what="the task completed after the restart")
        bodies = received_bodies(sqs, other, 6)
        assert set(bodies) == {f"m{i}" for i in range(6)} and len(bodies) <= 7  # the batch in hand: one message
        assert 6 <= task["ApproximateNumberOfMessagesMoved"] <= 7 and count(sqs, dlq) == 0
    finally:
        node.kill()
