"""SQS messages with boto3's own client: send/receive/delete, attributes and MD5s, visibility, long polling,
batches with partial failures, redrive to a dead-letter queue."""

from __future__ import annotations

import hashlib
import json
import struct
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.sqs_support import attrs, error_of, long_poll_with_late_send, unique
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

srv = module_server("sqs-messages")
sqs = module_client("sqs", server="srv")


@pytest.fixture
def queue(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=unique())["QueueUrl"])


def _expected_md5(attributes: dict[str, dict[str, Any]]) -> str:
    """The documented algorithm, written independently of the server's (bytes values arrive as bytes)."""
    out = b""
    for name in sorted(attributes):
        value = attributes[name]
        for text in (name, value["DataType"]):
            out += struct.pack("!I", len(text.encode())) + text.encode()
        if "BinaryValue" in value:
            out += b"\x02" + struct.pack("!I", len(value["BinaryValue"])) + value["BinaryValue"]
        else:
            out += b"\x01" + struct.pack("!I", len(value["StringValue"].encode())) + value["StringValue"].encode()
    return hashlib.md5(out).hexdigest()


def test_send_receive_delete(sqs: Any, queue: str) -> None:
    sent = sqs.send_message(QueueUrl=queue, MessageBody="hello ✓")
    assert sent["MD5OfMessageBody"] == hashlib.md5("hello ✓".encode()).hexdigest()
    assert "MD5OfMessageAttributes" not in sent
    got = sqs.receive_message(QueueUrl=queue, MessageSystemAttributeNames=["All"])["Messages"]
    assert len(got) == 1
    message = got[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hello ✓"
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    system = message["Attributes"]
    assert system["ApproximateReceiveCount"] == "1"
    assert system["SenderId"] == "test"
    assert abs(int(system["SentTimestamp"]) - time.time() * 1000) < 60_000
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
    assert attrs(sqs, queue, "ApproximateNumberOfMessagesNotVisible")["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    counts = attrs(sqs, queue, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)


def test_known_md5_vectors(sqs: Any, queue: str) -> None:
    """Digests published with AWS's examples and other SDKs' tests."""
    cases = [
        ({"SellerName": {"DataType": "String", "StringValue": "Example Store"}}, "cd28f3b68aeee4b2eac9c66f2f694b58"),
        ({"ordinal": {"DataType": "Number", "StringValue": "1"},
          "category": {"DataType": "String", "StringValue": "test"}}, "d21ae90c49061e927f57df5f5d72be1f"),
        ({"test_attribute_name": {"DataType": "Binary", "BinaryValue": b"test_attribute_value"}},
         "23f6bd27ea87aab7dfeadcc9aebee495"),
    ]
    for attributes, digest in cases:
        assert sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attributes)[
            "MD5OfMessageAttributes"] == digest


def test_message_attributes_of_every_type_round_trip(sqs: Any, queue: str) -> None:
    attributes: dict[str, dict[str, Any]] = {
        "text": {"DataType": "String", "StringValue": "héllo"},
        "count": {"DataType": "Number", "StringValue": "-12.5e3"},
        "blob": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
        "custom": {"DataType": "String.json", "StringValue": "{}"},
        "trace.id": {"DataType": "Number.int", "StringValue": "7"},
    }
    sent = sqs.send_message(QueueUrl=queue, MessageBody="typed", MessageAttributes=attributes)
    assert sent["MD5OfMessageAttributes"] == _expected_md5(attributes)
    message = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"][0]
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    some = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["text", "trace.*"],
                               VisibilityTimeout=0)["Messages"][0]
    assert set(some["MessageAttributes"]) == {"text", "trace.id"}
    assert some["MD5OfMessageAttributes"] == _expected_md5({k: attributes[k] for k in ("text", "trace.id")})
    none = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert "MessageAttributes" not in none and "MD5OfMessageAttributes" not in none


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"n": {"DataType": "Number", "StringValue": "abc"}}, "to a number"),
        ({"n": {"DataType": "Float", "StringValue": "1"}}, "supported type prefixes"),
        ({"n": {"DataType": "String", "StringValue": ""}}, "non-empty message attribute value"),
        ({"AWS.x": {"DataType": "String", "StringValue": "v"}}, "reserved"),
        ({f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}, "exceeds the allowed maximum"),
    ],
)
def test_invalid_message_attributes(sqs: Any, queue: str, attributes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attributes)
    code, message, status = error_of(exc.value)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert fragment in message


def test_invalid_bodies(sqs: Any, queue: str) -> None:
    with pytest.raises(sqs.exceptions.InvalidMessageContents) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="bad \x00 char")
    assert error_of(exc.value)[0] == "InvalidMessageContents"
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="")
    assert error_of(exc.value)[0] == "MissingParameter"
    small = sqs.create_queue(QueueName=unique(), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=small, MessageBody="x" * 1025)
    code, message, _ = error_of(exc.value)
    assert code == "InvalidParameterValue" and "shorter than 1024 bytes" in message
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="x", DelaySeconds=901)
    assert error_of(exc.value)[0] == "InvalidParameterValue"


def test_receive_parameter_errors(sqs: Any, queue: str) -> None:
    for kwargs in ({"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21},
                   {"VisibilityTimeout": 43201}):
        with pytest.raises(ClientError) as exc:
            sqs.receive_message(QueueUrl=queue, **kwargs)
        code, message, status = error_of(exc.value)
        assert (code, status) == ("InvalidParameterValue", 400)
        assert next(iter(kwargs)) in message


def test_receive_many_and_delay(sqs: Any, queue: str) -> None:
    for i in range(12):
        sqs.send_message(QueueUrl=queue, MessageBody=f"m{i}")
    first = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(first) == 10
    rest = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(rest) == 2
    assert len({m["MessageId"] for m in first + rest}) == 12
    delayed = sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=1)["MessageId"]
    assert attrs(sqs, queue, "ApproximateNumberOfMessagesDelayed")["ApproximateNumberOfMessagesDelayed"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    got = wait_until(lambda: sqs.receive_message(QueueUrl=queue).get("Messages"), timeout_s=15)
    assert got[0]["MessageId"] == delayed


def test_visibility_timeout_expiry_makes_message_visible_again(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="again")
    first = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1, AttributeNames=["All"])["Messages"][0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    second = wait_until(
        lambda: sqs.receive_message(QueueUrl=queue, AttributeNames=["ApproximateReceiveCount"]).get("Messages"),
        timeout_s=15,
    )[0]
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert second["ReceiptHandle"] != first["ReceiptHandle"]


def test_change_message_visibility(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="cmv")
    message = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=600)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=600)["Messages"][0]
    assert again["MessageId"] == message["MessageId"]
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=43201)
    assert error_of(exc.value)[0] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle="not-a-handle", VisibilityTimeout=5)
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)  # lease lapses at once: no longer in flight
    with pytest.raises(sqs.exceptions.MessageNotInflight) as exc:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5)
    assert error_of(exc.value)[0] == "AWS.SimpleQueueService.MessageNotInflight"


def test_delete_message_errors(sqs: Any, queue: str) -> None:
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as exc:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle="garbage")
    assert error_of(exc.value)[:2] == ("ReceiptHandleIsInvalid",
                                       'The input receipt handle "garbage" is not a valid receipt handle.')
    sqs.send_message(QueueUrl=queue, MessageBody="once")
    handle = sqs.receive_message(QueueUrl=queue)["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)  # deleting twice succeeds, as on AWS


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs: Any, srv: LambdaliteProcess, queue: str) -> None:
    got, elapsed_s = long_poll_with_late_send(sqs, srv.client("sqs"), queue, "arrived")
    assert got["Messages"][0]["Body"] == "arrived"
    assert elapsed_s < 10, f"long poll took {elapsed_s:.1f}s for a message sent after 1s"


def test_long_poll_uses_queue_default_wait_and_ends_empty(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), Attributes={"ReceiveMessageWaitTimeSeconds": "1"})["QueueUrl"]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert time.monotonic() - started >= 0.9
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - started < 0.9


def test_send_batch_partial_failure(sqs: Any, queue: str) -> None:
    result = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "ok1", "MessageBody": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "bad-attr", "MessageBody": "two", "MessageAttributes": {"k": {"DataType": "Number",
                                                                             "StringValue": "NaNx"}}},
        {"Id": "bad-body", "MessageBody": "three \x01"},
        {"Id": "ok2", "MessageBody": "four", "DelaySeconds": 0},
    ])
    assert [e["Id"] for e in result["Successful"]] == ["ok1", "ok2"]
    ok1 = result["Successful"][0]
    assert ok1["MD5OfMessageBody"] == hashlib.md5(b"one").hexdigest()
    assert ok1["MD5OfMessageAttributes"] == _expected_md5({"k": {"DataType": "String", "StringValue": "v"}})
    failed = {e["Id"]: e for e in result["Failed"]}
    assert failed["bad-attr"]["Code"] == "InvalidParameterValue" and failed["bad-attr"]["SenderFault"] is True
    assert failed["bad-body"]["Code"] == "InvalidMessageContents"
    assert attrs(sqs, queue, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "2"


def test_batch_request_errors(sqs: Any, queue: str) -> None:
    cases = [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest", sqs.exceptions.EmptyBatchRequest),
        ([{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)],
         "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", sqs.exceptions.TooManyEntriesInBatchRequest),
        ([{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", sqs.exceptions.BatchEntryIdsNotDistinct),
        ([{"Id": "bad id!", "MessageBody": "x"}],
         "AWS.SimpleQueueService.InvalidBatchEntryId", sqs.exceptions.InvalidBatchEntryId),
    ]
    for entries, code, exception in cases:
        with pytest.raises(exception) as exc:
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        assert error_of(exc.value)[0] == code
    small = sqs.create_queue(QueueName=unique(), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(QueueUrl=small, Entries=[{"Id": f"e{i}", "MessageBody": "x" * 600} for i in range(2)])
    assert attrs(sqs, queue, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_delete_and_change_visibility_batches(sqs: Any, queue: str) -> None:
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(3)])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=600)["Messages"]
    assert len(messages) == 3
    changed = sqs.change_message_visibility_batch(QueueUrl=queue, Entries=[
        {"Id": "a", "ReceiptHandle": messages[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "nonsense", "VisibilityTimeout": 0},
    ])
    assert [e["Id"] for e in changed["Successful"]] == ["a"]
    assert changed["Failed"][0]["Id"] == "b" and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=queue, Entries=[
        {"Id": "x", "ReceiptHandle": messages[1]["ReceiptHandle"]},
        {"Id": "y", "ReceiptHandle": messages[2]["ReceiptHandle"]},
        {"Id": "z", "ReceiptHandle": "nonsense"},
    ])
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["x", "y"]
    assert deleted["Failed"] == [{"Id": "z", "SenderFault": True, "Code": "ReceiptHandleIsInvalid",
                                  "Message": 'The input receipt handle "nonsense" is not a valid receipt handle.'}]
    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [m["MessageId"] for m in left] == [messages[0]["MessageId"]]


def test_redrive_to_dead_letter_queue_after_max_receive_count(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = attrs(sqs, dlq, "QueueArn")["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    source = sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    source_arn = attrs(sqs, source, "QueueArn")["QueueArn"]
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison",
                            MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    for count in ("1", "2"):
        got = sqs.receive_message(QueueUrl=source, VisibilityTimeout=0, AttributeNames=["All"])["Messages"][0]
        assert got["Attributes"]["ApproximateReceiveCount"] == count
    assert "Messages" not in sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)
    dead = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"],
                               MessageAttributeNames=["All"])["Messages"][0]
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Body"] == "poison"
    assert dead["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == source_arn
    assert attrs(sqs, source, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_queue_delay_default_applies(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), Attributes={"DelaySeconds": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="late")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"][0]["Body"] == "late"
