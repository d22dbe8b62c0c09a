"""Bucket notifications end to end: configuration (round trip and AWS's refusals), the exact S3 event
record a function receives, prefix/suffix and event-name filters, SQS and EventBridge targets, a failing
function's retries ending in its DLQ and OnFailure destinations (SQS, and an S3 bucket)."""

from __future__ import annotations

import re
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.e2e.async_support import create_recorder, records
from tests.e2e.test_destinations_helpers import (
    ACCOUNT,
    FAILING,
    FAST_ENV,
    REGION,
    create_function,
    create_queue,
    function_arn,
    metric,
    queue_arn,
    receive_one,
    receive_record,
    wait_metric_rise,
)
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

server = module_server("s3-notify", env=FAST_ENV)
s3 = module_client("s3")
sqs = module_client("sqs")
lam = module_client("lambda")
events = module_client("events")

EVENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SEQUENCER = re.compile(r"[0-9A-F]{16,}")


def _pending_notification_jobs(server: LambdaliteProcess) -> int:
    conn = sqlite3.connect(f"file:{server.data_dir / 'lambdalite.db'}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM messages WHERE kind = 's3-notification'").fetchone()[0])
    finally:
        conn.close()


def _config(s3: Any, bucket: str, config: dict[str, Any], **extra: Any) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config, **extra)


def _key_filter(prefix: str | None = None, suffix: str | None = None) -> dict[str, Any]:
    rules = ([{"Name": "prefix", "Value": prefix}] if prefix is not None else []) + (
        [{"Name": "suffix", "Value": suffix}] if suffix is not None else [])
    return {"Key": {"FilterRules": rules}}


def test_lambda_record_filters_and_sqs_removals(server: LambdaliteProcess, s3: Any, sqs: Any, lam: Any,
                                                tmp_path: Path) -> None:
    record_path = tmp_path / "events.jsonl"
    create_recorder(lam, "s3-recorder", record_path)
    removed_url = create_queue(sqs, "s3-removed")
    s3.create_bucket(Bucket="notify")
    _config(s3, "notify", {
        "LambdaFunctionConfigurations": [{"Id": "created-txt", "LambdaFunctionArn": function_arn("s3-recorder", None),
                                          "Events": ["s3:ObjectCreated:Put"], "Filter": _key_filter("in/", ".txt")}],
        "QueueConfigurations": [{"QueueArn": queue_arn("s3-removed"), "Events": ["s3:ObjectRemoved:*"]}],
    })
    test_event = orjson.loads(receive_one(sqs, removed_url)["Body"])
    assert (test_event["Service"], test_event["Event"], test_event["Bucket"]) == ("Amazon S3", "s3:TestEvent", "notify")
    got = s3.get_bucket_notification_configuration(Bucket="notify")
    assert got["LambdaFunctionConfigurations"][0]["Id"] == "created-txt"
    assert got["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "Prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".txt"}]
    assert got["QueueConfigurations"][0]["Id"]  # generated

    s3.put_object(Bucket="notify", Key="in/photo.jpg", Body=b"wrong suffix")
    s3.put_object(Bucket="notify", Key="out/a.txt", Body=b"wrong prefix")
    s3.copy_object(Bucket="notify", Key="in/copied.txt", CopySource="notify/out/a.txt")  # Copy, not Put
    key = "in/red flower@2x.txt"
    put = s3.put_object(Bucket="notify", Key=key, Body=b"12345")
    arrived = wait_until(lambda: records(record_path), what="the S3 event at the function")
    wait_until(lambda: _pending_notification_jobs(server) == 0, what="no notification job left")
    assert len(records(record_path)) == 1
    event = arrived[0]["event"]
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = event["Records"][0]
    meta = put["ResponseMetadata"]
    assert record == {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": record["eventTime"], "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": f"AWS:{ACCOUNT}"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": meta["RequestId"], "x-amz-id-2": meta["HostId"]},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "created-txt",
               "bucket": {"name": "notify", "ownerIdentity": {"principalId": ACCOUNT}, "arn": "arn:aws:s3:::notify"},
               "object": {"key": "in/red+flower%402x.txt", "size": 5, "eTag": put["ETag"].strip('"'),
                          "sequencer": record["s3"]["object"]["sequencer"]}},
    }
    assert record["s3"]["object"]["key"] == quote_plus(key, safe="/")
    assert EVENT_TIME.fullmatch(record["eventTime"])
    assert SEQUENCER.fullmatch(record["s3"]["object"]["sequencer"])

    s3.delete_object(Bucket="notify", Key=key)
    s3.delete_objects(Bucket="notify", Delete={"Objects": [{"Key": "out/a.txt"}]})
    removals = [orjson.loads(receive_one(sqs, removed_url)["Body"])["Records"][0] for _ in range(2)]
    assert sorted(r["s3"]["object"]["key"] for r in removals) == ["in/red+flower%402x.txt", "out/a.txt"]
    for removal in removals:
        assert removal["eventName"] == "ObjectRemoved:Delete"
        assert set(removal["s3"]["object"]) == {"key", "sequencer"}
    assert len(records(record_path)) == 1  # removals match no Lambda configuration
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as answer:
        exposed = answer.read().decode()
    assert 's3_NotificationsDelivered_total{bucket="notify",target="lambda"} 1.0' in exposed
    assert 's3_NotificationsDelivered_total{bucket="notify",target="queue"} 2.0' in exposed


def test_eventbridge_target(server: LambdaliteProcess, s3: Any, sqs: Any, events: Any) -> None:
    url = create_queue(sqs, "s3-eventbridge")
    events.put_rule(Name="s3-objects", EventPattern=orjson.dumps({"source": ["aws.s3"]}).decode())
    events.put_targets(Rule="s3-objects", Targets=[{"Id": "q", "Arn": queue_arn("s3-eventbridge")}])
    s3.create_bucket(Bucket="bridged")
    _config(s3, "bridged", {"EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket="bridged")
    put = s3.put_object(Bucket="bridged", Key="a b.txt", Body=b"abc")
    event = orjson.loads(receive_one(sqs, url)["Body"])
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
        "aws.s3", "Object Created", ACCOUNT, REGION)
    assert event["resources"] == ["arn:aws:s3:::bridged"]
    detail = event["detail"]
    assert detail["bucket"] == {"name": "bridged"} and detail["reason"] == "PutObject"
    assert detail["object"]["key"] == "a b.txt" and detail["object"]["size"] == 3
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert detail["request-id"] == put["ResponseMetadata"]["RequestId"]
    s3.delete_object(Bucket="bridged", Key="a b.txt")
    deleted = orjson.loads(receive_one(sqs, url)["Body"])
    assert deleted["detail-type"] == "Object Deleted" and deleted["detail"]["reason"] == "DeleteObject"


def _invalid(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    error: dict[str, Any] = exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidArgument"
    return error


def test_configuration_refusals(s3: Any, lam: Any) -> None:
    s3.create_bucket(Bucket="refusals")
    missing_queue = queue_arn("no-such-queue")
    with pytest.raises(ClientError) as exc:
        _config(s3, "refusals", {"QueueConfigurations": [{"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"]}]})
    error = _invalid(exc)
    assert error["Message"] == "Unable to validate the following destination configurations"
    assert (error["ArgumentName1"], error["ArgumentValue1"]) == (missing_queue, "The destination queue does not exist")
    missing_function = function_arn("no-such-function", None)
    with pytest.raises(ClientError) as exc:
        _config(s3, "refusals", {"LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": missing_function, "Events": ["s3:ObjectCreated:*"]}]})
    error = _invalid(exc)
    assert error["ArgumentName1"] == f"{missing_function}, null"
    assert error["ArgumentValue1"] == f"Not authorized to invoke function [{missing_function}]"
    with pytest.raises(ClientError) as exc:
        _config(s3, "refusals", {"QueueConfigurations": [{"QueueArn": "not-an-arn", "Events": ["s3:ObjectCreated:*"]}]})
    error = _invalid(exc)
    assert (error["Message"], error["ArgumentName"], error["ArgumentValue"]) == (
        "The ARN could not be parsed", "Queue", "not-an-arn")
    skip = {"SkipDestinationValidation": True}
    with pytest.raises(ClientError) as exc:
        _config(s3, "refusals", {"QueueConfigurations": [
            {"QueueArn": missing_queue, "Events": ["s3:ObjectRemoved:*"]},
            {"QueueArn": missing_queue, "Events": ["s3:ObjectRemoved:*"]}]}, **skip)
    error = _invalid(exc)
    assert error["Message"] == ("Configurations overlap. Configurations on the same bucket cannot share a common "
                                "event type.")
    assert (error["ArgumentName"], error["ArgumentValue"]) == ("Event", "s3:ObjectRemoved:*, s3:ObjectRemoved:*")
    with pytest.raises(ClientError) as exc:
        _config(s3, "refusals", {"QueueConfigurations": [
            {"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"], "Filter": _key_filter("a/", ".txt")},
            {"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:Put"], "Filter": _key_filter("a/b", "x.txt")}]},
            **skip)
    assert _invalid(exc)["Message"].startswith("Configuration is ambiguously defined.")
    _config(s3, "refusals", {"QueueConfigurations": [  # same event, prefixes apart: allowed
        {"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"], "Filter": _key_filter("a/")},
        {"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"], "Filter": _key_filter("b/")}]}, **skip)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket="refusals", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}}}]},
            SkipDestinationValidation=True)
    assert _invalid(exc)["Message"] == "filter rule name must be either prefix or suffix"
    with pytest.raises(ClientError) as exc:
        _config(s3, "no-such-bucket-here", {})
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"
    _config(s3, "refusals", {})
    assert set(s3.get_bucket_notification_configuration(Bucket="refusals")) == {"ResponseMetadata"}


def test_failing_function_reaches_dlq_and_on_failure_destinations(server: LambdaliteProcess, s3: Any, sqs: Any,
                                                                  lam: Any) -> None:
    dlq_url = create_queue(sqs, "s3-dlq")
    failure_url = create_queue(sqs, "s3-on-failure")
    create_function(lam, "s3-failing", FAILING, DeadLetterConfig={"TargetArn": queue_arn("s3-dlq")})
    lam.put_function_event_invoke_config(FunctionName="s3-failing", MaximumRetryAttempts=1, DestinationConfig={
        "OnFailure": {"Destination": queue_arn("s3-on-failure")}})
    s3.create_bucket(Bucket="failures-in")
    s3.create_bucket(Bucket="failure-records")
    lam.put_function_event_invoke_config(FunctionName="s3-failing", MaximumRetryAttempts=1, DestinationConfig={
        "OnFailure": {"Destination": queue_arn("s3-on-failure")}})
    _config(s3, "failures-in", {"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": function_arn("s3-failing", None), "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="failures-in", Key="doomed.txt", Body=b"x")
    record = receive_record(sqs, failure_url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "doomed.txt"
    assert record["responseContext"]["functionError"] == "Unhandled"
    dead = receive_one(sqs, dlq_url)
    assert orjson.loads(dead["Body"])["Records"][0]["s3"]["bucket"]["name"] == "failures-in"
    assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "200"

    lam.put_function_event_invoke_config(FunctionName="s3-failing", MaximumRetryAttempts=0, DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:s3:::failure-records"}})
    s3.put_object(Bucket="failures-in", Key="doomed-again.txt", Body=b"y")

    def stored() -> list[dict[str, Any]]:
        contents: list[dict[str, Any]] = s3.list_objects_v2(Bucket="failure-records").get("Contents", [])
        return contents

    objects = wait_until(stored, what="the failure record in the bucket")
    key = objects[0]["Key"]
    assert re.fullmatch(r"aws/lambda/async/s3-failing/\d{4}/\d{2}/\d{2}/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-"
                        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", key), key
    body = orjson.loads(s3.get_object(Bucket="failure-records", Key=key)["Body"].read())
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    assert body["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "doomed-again.txt"


# Writes the object it was told about again under a longer key: a loop through S3.
S3_LOOP = """
import boto3
from urllib.parse import unquote_plus

def handler(event, context):
    s3 = event["Records"][0]["s3"]
    key = unquote_plus(s3["object"]["key"])
    boto3.client("s3").put_object(Bucket=s3["bucket"]["name"], Key=key + "+", Body=b"again")
"""


def test_a_loop_through_s3_is_stopped_after_16_invocations(server: LambdaliteProcess, s3: Any, lam: Any) -> None:
    create_function(lam, "s3-loop", S3_LOOP)
    s3.create_bucket(Bucket="loop-bucket")
    _config(s3, "loop-bucket", {"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": function_arn("s3-loop", None), "Events": ["s3:ObjectCreated:*"]}]})
    before = metric(server, "RecursiveInvocationsDropped", "s3-loop")
    s3.put_object(Bucket="loop-bucket", Key="start", Body=b"go")
    wait_metric_rise(server, "RecursiveInvocationsDropped", "s3-loop", before)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="loop-bucket")["Contents"]]
    assert sorted(keys, key=len) == ["start" + "+" * n for n in range(17)]  # the first PUT and 16 invocations


def test_sns_topic_target(server: LambdaliteProcess, s3: Any, sqs: Any) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name="s3-topic")["TopicArn"]
    url = create_queue(sqs, "s3-via-sns")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn("s3-via-sns"))
    s3.create_bucket(Bucket="via-sns")
    with pytest.raises(ClientError) as exc:
        _config(s3, "via-sns", {"TopicConfigurations": [
            {"TopicArn": topic + "-missing", "Events": ["s3:ObjectCreated:*"]}]})
    assert _invalid(exc)["ArgumentValue1"] == "The destination topic does not exist"
    _config(s3, "via-sns", {"TopicConfigurations": [{"Id": "to-sns", "TopicArn": topic,
                                                      "Events": ["s3:ObjectCreated:*"]}]})
    test_event = orjson.loads(receive_one(sqs, url)["Body"])
    assert test_event["Subject"] == "Amazon S3 Notification"
    assert orjson.loads(test_event["Message"])["Event"] == "s3:TestEvent"
    s3.put_object(Bucket="via-sns", Key="a b.txt", Body=b"x")
    envelope = orjson.loads(receive_one(sqs, url)["Body"])
    assert (envelope["Type"], envelope["Subject"], envelope["TopicArn"]) == (
        "Notification", "Amazon S3 Notification", topic)
    record = orjson.loads(envelope["Message"])["Records"][0]
    assert record["s3"]["configurationId"] == "to-sns" and record["s3"]["object"]["key"] == "a+b.txt"
