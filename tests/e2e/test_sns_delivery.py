"""SNS deliveries end to end (boto3 against a real server): the Lambda event record field by field, the
SQS envelope and raw delivery, MessageStructure=json, filter policies in both scopes, and an http
endpoint on loopback (confirmation, headers, retries of a failing endpoint)."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.async_support import create_recorder, records
from tests.e2e.test_sns_helpers import (
    ACCOUNT,
    FAST_ENV,
    REGION,
    Endpoint,
    bodies,
    make_queue,
    make_topic,
    receive,
    subscribe_queue,
    unique,
    verify_signature,
)
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CERT_URL = re.compile(r"http://127\.0\.0\.1:\d+/SimpleNotificationService-[0-9a-f]+\.pem")

server = module_server("sns-delivery", env=FAST_ENV)
sns = module_client("sns")
sqs = module_client("sqs")
lam = module_client("lambda")


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    opened = Endpoint()
    yield opened
    opened.close()


def test_lambda_subscription_gets_aws_sns_event_record(server: LambdaliteProcess, sns: Any, lam: Any,
                                                       tmp_path: Path) -> None:
    name = unique("fn")
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    topic = make_topic(sns)
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    binary = base64.b64encode(b"\x00\x01bytes").decode()
    message_id = sns.publish(TopicArn=topic, Message='{"hello": "world"}', MessageAttributes={
        "color": {"DataType": "String", "StringValue": "red"},
        "size": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01bytes"},
    })["MessageId"]

    [record] = wait_until(lambda: records(path), what="the function's invocation")
    event = record["event"]
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    outer = event["Records"][0]
    assert list(outer) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
    assert (outer["EventSource"], outer["EventVersion"], outer["EventSubscriptionArn"]) == ("aws:sns", "1.0", sub)
    assert UUID.fullmatch(sub.rsplit(":", 1)[1]) and sub.startswith(topic + ":")
    body = outer["Sns"]
    assert list(body) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                          "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"]
    assert body["Type"] == "Notification"
    assert body["MessageId"] == message_id and UUID.fullmatch(message_id)
    assert body["TopicArn"] == topic
    assert body["Subject"] is None
    assert body["Message"] == '{"hello": "world"}'
    assert TIMESTAMP.fullmatch(body["Timestamp"]), body["Timestamp"]
    assert body["SignatureVersion"] == "1"
    assert CERT_URL.fullmatch(body["SigningCertUrl"]), body["SigningCertUrl"]
    assert body["UnsubscribeUrl"] == f"{server.endpoint}/?Action=Unsubscribe&SubscriptionArn={sub}"
    assert body["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "42"},
        "blob": {"Type": "Binary", "Value": binary},
    }
    verify_signature(body, "SigningCertUrl")


def test_lambda_record_without_attributes_has_an_empty_map_and_keeps_the_subject(sns: Any, lam: Any,
                                                                                  tmp_path: Path) -> None:
    name = unique("fn")
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path)
    topic = make_topic(sns)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    sns.publish(TopicArn=topic, Message="plain", Subject="Greetings")
    [record] = wait_until(lambda: records(path), what="the function's invocation")
    body = record["event"]["Records"][0]["Sns"]
    assert (body["Subject"], body["Message"], body["MessageAttributes"]) == ("Greetings", "plain", {})
    verify_signature(body, "SigningCertUrl")


def test_sqs_subscription_gets_the_json_envelope(server: LambdaliteProcess, sns: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    sub = subscribe_queue(sns, topic, arn)
    plain_id = sns.publish(TopicArn=topic, Message="no subject")["MessageId"]
    [message] = receive(sqs, url, 1)
    envelope = json.loads(message["Body"])
    assert list(envelope) == ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion",
                              "Signature", "SigningCertURL", "UnsubscribeURL"]
    assert (envelope["Type"], envelope["MessageId"], envelope["TopicArn"], envelope["Message"]) == (
        "Notification", plain_id, topic, "no subject")
    assert envelope["UnsubscribeURL"] == f"{server.endpoint}/?Action=Unsubscribe&SubscriptionArn={sub}"
    assert "MessageAttributes" not in message  # the envelope carries them, not the SQS message
    verify_signature(envelope)

    sns.publish(TopicArn=topic, Message="with", Subject="s",
                MessageAttributes={"k": {"DataType": "String.Array", "StringValue": '["a", 1]'}})
    [message] = receive(sqs, url, 1)
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "s"
    assert envelope["MessageAttributes"] == {"k": {"Type": "String.Array", "Value": '["a", 1]'}}
    assert list(envelope)[3:5] == ["Subject", "Message"]
    verify_signature(envelope)


def test_signature_version_2_signs_with_sha256(sns: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    subscribe_queue(sns, topic, arn)
    sns.publish(TopicArn=topic, Message="sha256")
    [envelope] = bodies(receive(sqs, url, 1))
    assert envelope["SignatureVersion"] == "2"
    verify_signature(envelope)


def test_raw_delivery_sends_the_message_and_its_attributes(sns: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn, RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="raw body", MessageAttributes={
        "s": {"DataType": "String", "StringValue": "v"}, "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\xff\x00"}})
    [message] = receive(sqs, url, 1)
    assert message["Body"] == "raw body"
    assert message["MessageAttributes"] == {
        "s": {"DataType": "String", "StringValue": "v"}, "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\xff\x00"}}


def test_message_structure_json_gives_each_protocol_its_message(sns: Any, sqs: Any, lam: Any,
                                                                tmp_path: Path) -> None:
    url, arn = make_queue(sqs)
    name = unique("fn")
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "lambda": "for lambda"}),
                MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    [envelope] = bodies(receive(sqs, url, 1))
    assert envelope["Message"] == "for everyone" and "MessageAttributes" not in envelope
    [record] = wait_until(lambda: records(path), what="the function's invocation")
    assert record["event"]["Records"][0]["Sns"]["Message"] == "for lambda"


ATTRIBUTE_POLICY = {
    "store": ["example_corp"],
    "event": [{"anything-but": ["order_cancelled"]}],
    "price": [{"numeric": [">=", 100, "<", 200]}],
    "customer": [{"prefix": "gold-"}, {"suffix": "-vip"}],
    "$or": [{"channel": [{"exists": True}]}, {"region": [{"exists": False}]}],
}


def _attributes(**values: Any) -> dict[str, dict[str, str]]:
    return {k: {"DataType": "Number" if isinstance(v, int) else "String", "StringValue": str(v)}
            for k, v in values.items()}


def test_filter_policy_on_message_attributes(sns: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn, FilterPolicy=json.dumps(ATTRIBUTE_POLICY))
    base = {"store": "example_corp", "event": "order_placed", "price": 150, "customer": "gold-1"}
    cases = {
        "match": base,
        "match-suffix-and-channel": {**base, "customer": "x-vip", "channel": "web", "region": "eu"},
        "no-store": {k: v for k, v in base.items() if k != "store"},
        "wrong-store": {**base, "store": "Example_Corp"},
        "cancelled": {**base, "event": "order_cancelled"},
        "price-high": {**base, "price": 200},
        "price-as-string": {**base, "price": "150"},
        "customer": {**base, "customer": "silver-1"},
        "or-neither": {**base, "region": "eu"},
    }
    for label, values in cases.items():
        sns.publish(TopicArn=topic, Message=label, MessageAttributes=_attributes(**values))
    got = sorted(e["Message"] for e in bodies(receive(sqs, url, 2)))
    assert got == ["match", "match-suffix-and-channel"]


def test_filter_policy_on_the_message_body(sns: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    policy = {"order": {"kind": ["book"], "total": [{"numeric": [">", 10]}]}, "tags": ["urgent"]}
    subscribe_queue(sns, topic, arn, FilterPolicy=json.dumps(policy), FilterPolicyScope="MessageBody")
    messages: dict[str, dict[str, Any]] = {
        "yes": {"order": {"kind": "book", "total": 12.5}, "tags": ["x", "urgent"]},
        "cheap": {"order": {"kind": "book", "total": 5}, "tags": ["urgent"]},
        "flat": {"kind": "book", "total": 12.5, "tags": ["urgent"]},
    }
    for label, body in messages.items():
        sns.publish(TopicArn=topic, Message=json.dumps({**body, "label": label}),
                    MessageAttributes=_attributes(tags="urgent"))
    sns.publish(TopicArn=topic, Message="not json at all")
    got = [json.loads(e["Message"])["label"] for e in bodies(receive(sqs, url, 1))]
    assert got == ["yes"]


def test_http_subscription_confirms_then_gets_notifications_with_retries(
        server: LambdaliteProcess, sns: Any, endpoint: Endpoint) -> None:
    topic = make_topic(sns)
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    assert answer["SubscriptionArn"] == "pending confirmation"
    [(headers, raw)] = wait_until(lambda: endpoint.of_type("SubscriptionConfirmation"), what="a confirmation")
    confirmation = json.loads(raw)
    assert list(confirmation) == ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                                  "SignatureVersion", "Signature", "SigningCertURL"]
    assert confirmation["SubscribeURL"] == (f"{server.endpoint}/?Action=ConfirmSubscription&TopicArn={topic}"
                                            f"&Token={confirmation['Token']}")
    verify_signature(confirmation)
    [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as response:  # unsigned, as a browser
        assert b"<SubscriptionArn>" in response.read()
    [confirmed] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert confirmed["SubscriptionArn"].startswith(topic + ":")

    endpoint.answers = [500, 503]  # the first two tries fail: AWS's http policy retries (20 s, scaled)
    message_id = sns.publish(TopicArn=topic, Message="over http", Subject="hi")["MessageId"]
    tries = wait_until(lambda: len(endpoint.of_type("Notification")) >= 3 and endpoint.of_type("Notification"),
                       what="three tries")
    assert len({body for _, body in tries}) >= 1
    headers, raw = tries[-1]
    assert headers["x-amz-sns-message-id"] == message_id
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-subscription-arn"] == confirmed["SubscriptionArn"]
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    body = json.loads(raw)
    assert (body["Message"], body["Subject"], body["MessageId"]) == ("over http", "hi", message_id)
    verify_signature(body)
    assert len(endpoint.of_type("Notification")) == 3  # delivered on the third: no fourth


def test_raw_http_delivery_posts_the_message_itself_with_basic_auth(sns: Any, endpoint: Endpoint) -> None:
    topic = make_topic(sns)
    with_login = endpoint.url.replace("http://", "http://hook-user:p%40ss@")
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=with_login, ReturnSubscriptionArn=True,
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    [(_, raw)] = wait_until(lambda: endpoint.of_type("SubscriptionConfirmation"), what="a confirmation")
    sns.confirm_subscription(TopicArn=topic, Token=json.loads(raw)["Token"])
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Message="just this")
    [(headers, body)] = wait_until(lambda: endpoint.of_type("Notification"), what="the notification")
    assert body == b"just this" and headers["x-amz-sns-rawdelivery"] == "true"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"hook-user:p@ss").decode()


def test_publish_batch_delivers_each_entry_with_its_attributes(sns: Any, sqs: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn)
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "first", "Message": "one", "Subject": "s1",
         "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v1"}}},
        {"Id": "second", "Message": "two", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "2"}}},
    ])
    ids = {e["Id"]: e["MessageId"] for e in answer["Successful"]}
    got = {e["MessageId"]: e for e in bodies(receive(sqs, url, 2))}
    assert set(got) == set(ids.values())
    first, second = got[ids["first"]], got[ids["second"]]
    assert (first["Message"], first["Subject"], first["MessageAttributes"]) == (
        "one", "s1", {"k": {"Type": "String", "Value": "v1"}})
    assert (second["Message"], second["MessageAttributes"]) == ("two", {"n": {"Type": "Number", "Value": "2"}})
    assert "Subject" not in second


def test_lambda_subscription_honours_the_endpoints_qualifier(sns: Any, lam: Any, tmp_path: Path) -> None:
    name = unique("fn")
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    alias_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live"
    topic = make_topic(sns)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=alias_arn)
    sns.publish(TopicArn=topic, Message="to the alias")
    [record] = wait_until(lambda: records(path), what="the alias's invocation")
    assert record["arn"] == alias_arn
