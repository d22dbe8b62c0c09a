"""SQS queues and messages survive a restart of the server (and a kill -9)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.sqs_support import attrs, long_poll_with_late_send, unique
from tests.support.server import LambdaliteProcess


def test_queues_and_messages_survive_restart_and_kill(tmp_path: Path) -> None:
    proc = LambdaliteProcess(tmp_path / "data").start()
    try:
        sqs = proc.client("sqs")
        name = unique()
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "77"})["QueueUrl"]
        ids = [sqs.send_message(QueueUrl=url, MessageBody=f"m{i}",
                                MessageAttributes={"i": {"DataType": "Number", "StringValue": str(i)}})["MessageId"]
               for i in range(3)]
        in_flight = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"][0]
        proc.restart()
        sqs = proc.client("sqs")
        assert attrs(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "77"
        counts = attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        assert counts == {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "1"}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=in_flight["ReceiptHandle"])  # handles outlive restarts
        sqs.send_message(QueueUrl=url, MessageBody="acked before kill")
        proc.kill_server_only()
        proc.start()
        sqs = proc.client("sqs")
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
        assert sorted(m["Body"] for m in got) == ["acked before kill", "m1", "m2"]
        assert {m["MessageId"] for m in got} >= set(ids[1:]) - {in_flight["MessageId"]}
        assert all("MessageAttributes" in m for m in got if m["Body"] != "acked before kill")
    finally:
        proc.kill()


def test_long_poll_sees_a_message_sent_through_another_process(tmp_path: Path) -> None:
    first = LambdaliteProcess(tmp_path / "data").start()
    second = LambdaliteProcess(tmp_path / "data", args=["--no-dispatch"]).start()
    try:
        sqs_first, sqs_second = first.client("sqs"), second.client("sqs")
        url = sqs_first.create_queue(QueueName=unique())["QueueUrl"]
        got, elapsed_s = long_poll_with_late_send(sqs_first, sqs_second, url, "from the other process")
        assert got["Messages"][0]["Body"] == "from the other process"
        assert elapsed_s < 12, f"cross-process long poll took {elapsed_s:.1f}s"
    finally:
        second.kill()
        first.kill()
