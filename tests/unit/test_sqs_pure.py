"""Pure pieces of the SQS service: MD5 digests, receipt handles, query-form translation, attribute checks."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lambdalite.services.sqs import errors, message_attributes, query, queue_attributes, receipts
from lambdalite.services.sqs.md5 import md5_of_attributes


@pytest.mark.parametrize(
    ("attributes", "digest"),
    [
        ({"SellerName": {"DataType": "String", "StringValue": "Example Store"}}, "cd28f3b68aeee4b2eac9c66f2f694b58"),
        ({"ordinal": {"DataType": "Number", "StringValue": "1"},
          "category": {"DataType": "String", "StringValue": "test"}}, "d21ae90c49061e927f57df5f5d72be1f"),
        ({"test_attribute_name_2": {"DataType": "String", "StringValue": "test_attribute_value_2"},
          "test_attribute_name_1": {"DataType": "String", "StringValue": "test_attribute_value_1"}},
         "d53f3b558fe951154770f25cb63dbba9"),
        ({"test_attribute_name": {"DataType": "Binary",
                                  "BinaryValue": base64.b64encode(b"test_attribute_value").decode()}},
         "23f6bd27ea87aab7dfeadcc9aebee495"),
    ],
)
def test_md5_of_attributes_matches_published_vectors(attributes: dict[str, Any], digest: str) -> None:
    assert md5_of_attributes(attributes) == digest


def test_receipt_handles_round_trip_and_reject_garbage() -> None:
    handle = receipts.encode("0b8f3a0e-1111-4222-8333-444455556666", "ab" * 10)
    assert receipts.decode(handle) == ("0b8f3a0e-1111-4222-8333-444455556666", "ab" * 10)
    for bad in ("", "garbage", base64.b64encode(b"llr1:x:y").decode(), handle[:-4]):
        assert receipts.decode(bad) is None


def test_query_form_becomes_json_shaped_params() -> None:
    form = {
        "QueueUrl": "http://h/000000000000/q",
        "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40",
        "Attribute.2.Name": "DelaySeconds", "Attribute.2.Value": "0",
        "Tag.1.Key": "team", "Tag.1.Value": "a",
        "MessageAttribute.1.Name": "n", "MessageAttribute.1.Value.DataType": "Number",
        "MessageAttribute.1.Value.StringValue": "5",
        "AttributeName.2": "SentTimestamp", "AttributeName.1": "All",
        "SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "x",
        "SendMessageBatchRequestEntry.10.Id": "j", "SendMessageBatchRequestEntry.2.Id": "b",
    }
    params = query._convert(query._nest(form), "CreateQueue")
    assert params["Attributes"] == {"VisibilityTimeout": "40", "DelaySeconds": "0"}
    assert params["tags"] == {"team": "a"}
    assert params["MessageAttributes"] == {"n": {"DataType": "Number", "StringValue": "5"}}
    assert params["AttributeNames"] == ["All", "SentTimestamp"]
    assert [e["Id"] for e in params["Entries"]] == ["a", "b", "j"]


def test_xml_result_escapes_and_flattens() -> None:
    doc = query._document("ReceiveMessage", {"Messages": [{"Body": "<&>\r", "Attributes": {"A": "1"}}]}, "rid")
    assert "<Message><Body>&lt;&amp;&gt;&#13;</Body><Attribute><Name>A</Name><Value>1</Value></Attribute></Message>" in doc


def test_message_attribute_selection() -> None:
    attrs = {"a": {"DataType": "String", "StringValue": "1"}, "foo.x": {"DataType": "String", "StringValue": "2"},
             "foobar": {"DataType": "String", "StringValue": "3"}}
    assert message_attributes.select(attrs, ["All"]) == attrs
    assert message_attributes.select(attrs, [".*"]) == attrs
    assert set(message_attributes.select(attrs, ["foo.*"])) == {"foo.x"}
    assert set(message_attributes.select(attrs, ["a", "missing"])) == {"a"}
    assert message_attributes.select(attrs, []) == {}


def test_redrive_policy_is_normalised() -> None:
    arn = "arn:aws:sqs:us-east-1:000000000000:dlq"
    out = queue_attributes.check_settable({"RedrivePolicy": f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"5"}}'},
                                          lambda a: a == arn)
    assert queue_attributes.redrive_of(out) == (arn, 5)
    with pytest.raises(errors.SqsError) as exc:
        queue_attributes.check_settable({"RedrivePolicy": f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":0}}'},
                                        lambda a: True)
    assert exc.value.query_code == "InvalidParameterValue"


def test_errors_carry_the_query_code_header() -> None:
    err = errors.no_queue()
    assert err.code == "QueueDoesNotExist"
    assert ("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender") in err.headers
