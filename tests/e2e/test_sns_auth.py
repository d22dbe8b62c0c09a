"""SNS with authentication on: signed calls work, a bad key gets the query protocol's error in SNS's XML
envelope, and the links SNS puts in messages (UnsubscribeURL, the signing certificate) work unsigned."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.test_sns_helpers import (
    FAST_ENV,
    make_queue,
    make_topic,
    receive,
    subscribe_queue,
    verify_signature,
)
from tests.support.server import LambdaliteProcess, module_server
from tests.support.zips import python_zip

KEY, SECRET = "AKIDSNSTEST", "snsSecretKeyForTests0123456789"

server = module_server("sns-auth", env={**FAST_ENV, "LAMBDALITE_CREDENTIALS": f"{KEY}:{SECRET}"})


def client(server: LambdaliteProcess, service: str, secret: str = SECRET) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=KEY,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def test_signed_calls_work_and_a_bad_signature_is_refused_in_xml(server: LambdaliteProcess) -> None:
    sns = client(server, "sns")
    topic = make_topic(sns)
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    with pytest.raises(ClientError) as caught:
        client(server, "sns", secret="wrong").list_topics()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unsubscribe_link_and_certificate_work_unsigned(server: LambdaliteProcess) -> None:
    sns, sqs = client(server, "sns"), client(server, "sqs")
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    sub = subscribe_queue(sns, topic, arn)
    sns.publish(TopicArn=topic, Message="signed")
    [message] = receive(sqs, url, 1)
    envelope = json.loads(message["Body"])
    verify_signature(envelope)  # fetched the certificate without signing
    with urllib.request.urlopen(envelope["UnsubscribeURL"], timeout=10) as response:
        assert response.status == 200 and b"<UnsubscribeResponse" in response.read()
    assert all(s["SubscriptionArn"] != sub for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])


PUBLISHER = """
import boto3
from botocore.exceptions import ClientError

def attempt(call):
    try:
        call()
        return "allowed"
    except ClientError as e:
        return e.response["Error"]["Code"]

def handler(event, context):
    sns = boto3.client("sns")
    return {
        "publish": attempt(lambda: sns.publish(TopicArn=event["topic"], Message="from a function")),
        "create_topic": attempt(lambda: sns.create_topic(Name="made-by-a-function")),
        "list_subscriptions": attempt(lambda: sns.list_subscriptions()),
    }
"""


def test_a_function_may_publish_but_not_manage_topics(server: LambdaliteProcess) -> None:
    sns, sqs, lam = client(server, "sns"), client(server, "sqs"), client(server, "lambda")
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn)
    lam.create_function(FunctionName="publisher", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                        Handler="handler.handler", Code={"ZipFile": python_zip(PUBLISHER)}, Timeout=30)
    answer = lam.invoke(FunctionName="publisher", Payload=json.dumps({"topic": topic}).encode())
    assert json.loads(answer["Payload"].read()) == {"publish": "allowed", "create_topic": "AuthorizationError",
                                                    "list_subscriptions": "AuthorizationError"}
    [message] = receive(sqs, url, 1)
    assert json.loads(message["Body"])["Message"] == "from a function"
