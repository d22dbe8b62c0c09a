"""SQS queues and messages survive a restart of the server (and a kill -9)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.sqs_support import attrs, unique
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
