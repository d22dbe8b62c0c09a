"""The AWS CLI against the SQS service: v2 2.9 (Debian) speaks the query protocol, v1 (venv) JSON 1.0."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.e2e.sqs_support import unique
from tests.support.awscli import cli_json, run_cli
from tests.support.server import LambdaliteProcess, module_server

srv = module_server("sqs-cli")


def test_cli_v2_query_protocol_round_trip(srv: LambdaliteProcess, tmp_path: Path) -> None:
    version = 2
    name = unique("cli")

    def cli(*args: str) -> dict[str, Any]:
        return cli_json(version, srv.endpoint, ["sqs", *args], cwd=tmp_path) or {}

    url = cli("create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=40", "--tags", "team=a")[
        "QueueUrl"]
    assert url == f"{srv.endpoint}/000000000000/{name}"
    assert cli("get-queue-url", "--queue-name", name)["QueueUrl"] == url
    assert url in cli("list-queues", "--queue-name-prefix", name)["QueueUrls"]
    body = "hi <&> \"there\" ✓"
    attributes = {"n": {"DataType": "Number", "StringValue": "5"}, "b": {"DataType": "Binary", "BinaryValue": "AAE="}}
    sent = cli("send-message", "--queue-url", url, "--message-body", body,
               "--message-attributes", json.dumps(attributes))
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    batch = cli("send-message-batch", "--queue-url", url, "--entries",
                json.dumps([{"Id": "a", "MessageBody": "x"}, {"Id": "b", "MessageBody": "bad\u0001"}]))
    assert [e["Id"] for e in batch["Successful"]] == ["a"]
    assert batch["Failed"][0]["Code"] == "InvalidMessageContents"
    got = cli("receive-message", "--queue-url", url, "--attribute-names", "All", "--message-attribute-names", "All",
              "--max-number-of-messages", "10")["Messages"]
    first = next(m for m in got if m["MessageId"] == sent["MessageId"])
    assert first["Body"] == body
    assert first["MessageAttributes"]["n"] == {"DataType": "Number", "StringValue": "5"}
    assert first["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    deleted = cli("delete-message-batch", "--queue-url", url, "--entries", json.dumps(entries))
    assert len(deleted["Successful"]) == len(got)
    queue_attrs = cli("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert queue_attrs["VisibilityTimeout"] == "40"
    assert queue_attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    cli("add-permission", "--queue-url", url, "--label", "l1", "--aws-account-ids", "111122223333",
        "--actions", "SendMessage", "ReceiveMessage")  # the query form's flattened lists
    statement = json.loads(cli("get-queue-attributes", "--queue-url", url, "--attribute-names", "Policy")[
        "Attributes"]["Policy"])["Statement"][0]
    assert statement["Action"] == ["SQS:SendMessage", "SQS:ReceiveMessage"]
    cli("remove-permission", "--queue-url", url, "--label", "l1")
    run_cli(version, srv.endpoint, ["sqs", "delete-queue", "--queue-url", url], cwd=tmp_path)
    missing = run_cli(version, srv.endpoint, ["sqs", "get-queue-url", "--queue-name", name], cwd=tmp_path,
                      check=False)
    assert missing.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing.stderr
    assert "The specified queue does not exist." in missing.stderr


def test_cli_v1_json_protocol(srv: LambdaliteProcess, tmp_path: Path) -> None:
    def cli(*args: str) -> dict[str, Any]:
        return cli_json(1, srv.endpoint, ["sqs", *args], cwd=tmp_path) or {}

    url = cli("create-queue", "--queue-name", unique("cli1"))["QueueUrl"]
    sent = cli("send-message", "--queue-url", url, "--message-body", "v1")
    got = cli("receive-message", "--queue-url", url, "--wait-time-seconds", "5")["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in got] == [(sent["MessageId"], "v1")]
