"""SQS queue operations with boto3's own client: create/get/list/delete/purge, attributes, tags, errors."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.sqs_support import attrs, error_of, unique
from tests.support.server import CREDENTIALS, LambdaliteProcess, module_client, module_server

srv = module_server("sqs-queues")
sqs = module_client("sqs", server="srv")


def test_create_returns_url_from_host_and_is_idempotent(srv: LambdaliteProcess, sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert url == f"http://127.0.0.1:{srv.port}/000000000000/{name}"
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url


def test_create_with_different_attributes_is_queue_name_exists(sqs: Any) -> None:
    name = unique()
    sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})
    with pytest.raises(sqs.exceptions.QueueNameExists) as exc:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    code, message, status = error_of(exc.value)
    assert (code, status) == ("QueueAlreadyExists", 400)
    assert "VisibilityTimeout" in message


def test_default_and_computed_attributes(sqs: Any) -> None:
    name = unique()
    before_s = int(time.time()) - 1
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    got = attrs(sqs, url)
    assert got["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    assert got["VisibilityTimeout"] == "30"
    assert got["MessageRetentionPeriod"] == "345600"
    assert got["DelaySeconds"] == "0"
    assert got["ReceiveMessageWaitTimeSeconds"] == "0"
    assert got["MaximumMessageSize"] == "1048576"
    assert got["ApproximateNumberOfMessages"] == "0"
    assert got["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert got["ApproximateNumberOfMessagesDelayed"] == "0"
    assert before_s <= int(got["CreatedTimestamp"]) <= int(time.time()) + 1
    assert got["LastModifiedTimestamp"] == got["CreatedTimestamp"]
    only = attrs(sqs, url, "QueueArn", "DelaySeconds")
    assert set(only) == {"QueueArn", "DelaySeconds"}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)


def test_region_comes_from_the_signature(srv: LambdaliteProcess) -> None:
    west = boto3.client("sqs", endpoint_url=srv.endpoint, **{**CREDENTIALS, "region_name": "eu-west-1"})
    name = unique()
    url = west.create_queue(QueueName=name)["QueueUrl"]
    assert attrs(west, url, "QueueArn")["QueueArn"] == f"arn:aws:sqs:eu-west-1:000000000000:{name}"


def test_set_queue_attributes_and_redrive_policy(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = attrs(sqs, dlq, "QueueArn")["QueueArn"]
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5", "RedrivePolicy": policy})
    got = attrs(sqs, url)
    assert got["DelaySeconds"] == "5"
    assert json.loads(got["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
    assert sources == [url]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in attrs(sqs, url)


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ({"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ({"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
        ({"DelaySeconds": "abc"}, "InvalidAttributeValue"),
        ({"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue"),
        ({"MaximumMessageSize": "1023"}, "InvalidAttributeValue"),
        ({"Colour": "blue"}, "InvalidAttributeName"),
        (
            {"RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:none",
                                          "maxReceiveCount": 2})},
            "InvalidParameterValue",
        ),
        ({"RedrivePolicy": "{not json"}, "InvalidParameterValue"),
    ],
)
def test_invalid_attributes_are_refused_without_creating(sqs: Any, attributes: dict[str, str], code: str) -> None:
    name = unique()
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert error_of(exc.value)[0] == code
    assert error_of(exc.value)[2] == 400
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_fifo_queues_are_refused_clearly(sqs: Any) -> None:
    for kwargs in ({"QueueName": unique() + ".fifo", "Attributes": {"FifoQueue": "true"}},
                   {"QueueName": unique() + ".fifo"}):
        with pytest.raises(sqs.exceptions.UnsupportedOperation) as exc:
            sqs.create_queue(**kwargs)
        code, message, _ = error_of(exc.value)
        assert code == "AWS.SimpleQueueService.UnsupportedOperation"
        assert "FIFO" in message


@pytest.mark.parametrize("name", ["has space", "x" * 81, "bad/char"])
def test_invalid_queue_names(sqs: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name)
    assert error_of(exc.value)[0] == "InvalidParameterValue"


def test_list_queues_prefix_and_paging(sqs: Any) -> None:
    prefix = unique("list")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for name in names:
        sqs.create_queue(QueueName=name)
    urls = sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]
    assert [u.rsplit("/", 1)[1] for u in urls] == names
    page1 = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert len(page1["QueueUrls"]) == 2
    seen = list(page1["QueueUrls"])
    token = page1.get("NextToken")
    while token:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=token)
        seen += page["QueueUrls"]
        token = page.get("NextToken")
    assert [u.rsplit("/", 1)[1] for u in seen] == names
    paginated = [u for p in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix,
                                                                      PaginationConfig={"PageSize": 3})
                 for u in p.get("QueueUrls", [])]
    assert len(paginated) == 5
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("none"))


def test_delete_queue_removes_it_and_its_messages(sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_purge_queue(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "3"
    sqs.purge_queue(QueueUrl=url)
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"


def test_queue_url_with_another_host_is_accepted(sqs: Any) -> None:
    name = unique()
    sqs.create_queue(QueueName=name)
    other = f"https://sqs.us-east-1.amazonaws.com/000000000000/{name}"
    assert attrs(sqs, other, "QueueArn")["QueueArn"].endswith(f":{name}")


def test_tags(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("get_queue_attributes", {"AttributeNames": ["All"]}),
        ("set_queue_attributes", {"Attributes": {"DelaySeconds": "1"}}),
        ("delete_queue", {}),
        ("purge_queue", {}),
        ("send_message", {"MessageBody": "x"}),
        ("send_message_batch", {"Entries": [{"Id": "a", "MessageBody": "x"}]}),
        ("receive_message", {}),
        ("delete_message", {"ReceiptHandle": "abc"}),
        ("delete_message_batch", {"Entries": [{"Id": "a", "ReceiptHandle": "abc"}]}),
        ("change_message_visibility", {"ReceiptHandle": "abc", "VisibilityTimeout": 1}),
        ("change_message_visibility_batch", {"Entries": [{"Id": "a", "ReceiptHandle": "abc"}]}),
        ("list_queue_tags", {}),
    ],
)
def test_missing_queue_is_queue_does_not_exist(srv: LambdaliteProcess, sqs: Any, operation: str,
                                               kwargs: dict[str, Any]) -> None:
    url = f"{srv.endpoint}/000000000000/{unique('missing')}"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        getattr(sqs, operation)(QueueUrl=url, **kwargs)
    code, message, status = error_of(exc.value)
    assert (code, message, status) == ("AWS.SimpleQueueService.NonExistentQueue",
                                       "The specified queue does not exist.", 400)


def test_get_queue_attributes_unknown_name(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"])
    assert error_of(exc.value)[:2] == ("InvalidAttributeName", "Unknown Attribute Nope.")


def test_unsupported_operation_is_a_clear_error(srv: LambdaliteProcess) -> None:
    """Every operation of botocore's SQS model is served; one beyond it (a newer API) is named in the error."""
    request = urllib.request.Request(srv.endpoint + "/", data=b"{}", method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.FrobnicateQueue"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=10)
    body = json.loads(exc.value.read())
    assert exc.value.code == 400 and body["__type"].endswith("UnsupportedOperation")
    assert "FrobnicateQueue" in body["message"]


def test_add_and_remove_permission_edit_the_queues_policy(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("perm"))["QueueUrl"]
    arn = attrs(sqs, url, "QueueArn")["QueueArn"]
    sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="both", AWSAccountIds=["111122223333", "444455556666"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(attrs(sqs, url, "Policy")["Policy"])
    assert policy["Version"] == "2012-10-17" and policy["Id"] == f"{arn}/SQSDefaultPolicy"
    assert policy["Statement"] == [
        {"Sid": "send", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "SQS:SendMessage", "Resource": arn},
        {"Sid": "both", "Effect": "Allow",
         "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]},
         "Action": ["SQS:ReceiveMessage", "SQS:DeleteMessage"], "Resource": arn}]
    with pytest.raises(ClientError) as exc:
        sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111122223333"], Actions=["*"])
    assert error_of(exc.value)[1] == "Value send for parameter Label is invalid. Reason: Already exists."
    sqs.remove_permission(QueueUrl=url, Label="send")
    assert [s["Sid"] for s in json.loads(attrs(sqs, url, "Policy")["Policy"])["Statement"]] == ["both"]
    sqs.remove_permission(QueueUrl=url, Label="both")
    assert "Policy" not in attrs(sqs, url)  # the last statement gone: no policy
    with pytest.raises(ClientError) as exc:
        sqs.remove_permission(QueueUrl=url, Label="both")
    assert error_of(exc.value)[1] == "Value both for parameter Label is invalid. Reason: can't find label."
