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
