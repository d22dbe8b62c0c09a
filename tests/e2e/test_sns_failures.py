"""SNS failure paths end to end: a failing function's retries end in its DLQ and OnFailure destination
with the SNS event inside; deliveries to a deleted queue, a missing function or a failing http endpoint
end in the subscription's dead-letter queue; SNS as a Lambda destination and dead-letter target."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

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
)
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until
from tests.support.zips import python_zip

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
FAILING = 'def handler(event, context):\n    raise ValueError("cannot handle " + event["Records"][0]["Sns"]["Message"])\n'
ECHO = "def handler(event, context):\n    return {'got': event}\n"

server = module_server("sns-failures", env=FAST_ENV)
sns = module_client("sns")
sqs = module_client("sqs")
lam = module_client("lambda")


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    opened = Endpoint()
    yield opened
    opened.close()


def create_function(lam: Any, name: str, source: str, **extra: Any) -> str:
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": python_zip(source)}, Timeout=10, **extra)
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def redrive(queue: str) -> str:
    return json.dumps({"deadLetterTargetArn": queue})


def test_failing_function_retries_then_its_dlq_and_on_failure_get_the_sns_event(sns: Any, sqs: Any,
                                                                                  lam: Any) -> None:
    dlq_url, dlq_arn = make_queue(sqs)
    failures_url, failures_arn = make_queue(sqs)
    name = unique("failing")
    function_arn = create_function(lam, name, FAILING, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    topic = make_topic(sns)
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    message_id = sns.publish(TopicArn=topic, Message="order-7")["MessageId"]

    [dead] = receive(sqs, dlq_url, 1)
    event = json.loads(dead["Body"])
    assert event["Records"][0]["EventSubscriptionArn"] == sub
    assert event["Records"][0]["Sns"]["MessageId"] == message_id
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "cannot handle order-7"
    [record] = bodies(receive(sqs, failures_url, 1))
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first try and one retry
    assert record["requestPayload"] == event
    assert record["responsePayload"]["errorMessage"] == "cannot handle order-7"


def test_a_deleted_queue_sends_the_envelope_to_the_subscription_dlq(sns: Any, sqs: Any) -> None:
    gone_url, gone_arn = make_queue(sqs)
    dlq_url, dlq_arn = make_queue(sqs)
    topic = make_topic(sns)
    sub = subscribe_queue(sns, topic, gone_arn, RedrivePolicy=redrive(dlq_arn))
    sqs.delete_queue(QueueUrl=gone_url)
    message_id = sns.publish(TopicArn=topic, Message="lost?", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})["MessageId"]
    [envelope] = bodies(receive(sqs, dlq_url, 1))
    assert (envelope["Type"], envelope["MessageId"], envelope["Message"]) == ("Notification", message_id, "lost?")
    assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={sub}")
    assert envelope["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}


def test_raw_subscription_dlq_gets_the_raw_message_and_attributes(sns: Any, sqs: Any) -> None:
    gone_url, gone_arn = make_queue(sqs)
    dlq_url, dlq_arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, gone_arn, RedrivePolicy=redrive(dlq_arn), RawMessageDelivery="true")
    sqs.delete_queue(QueueUrl=gone_url)
    sns.publish(TopicArn=topic, Message="raw lost", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    [message] = receive(sqs, dlq_url, 1)
    assert message["Body"] == "raw lost"
    assert message["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}


def test_a_missing_function_goes_to_the_dlq_without_retries(sns: Any, sqs: Any) -> None:
    dlq_url, dlq_arn = make_queue(sqs)
    topic = make_topic(sns)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nobody",
                  Attributes={"RedrivePolicy": redrive(dlq_arn)})
    message_id = sns.publish(TopicArn=topic, Message="to nobody")["MessageId"]
    [envelope] = bodies(receive(sqs, dlq_url, 1))
    assert envelope["MessageId"] == message_id and envelope["Message"] == "to nobody"


def test_a_failing_http_endpoint_is_retried_by_its_policy_then_dead_lettered(sns: Any, sqs: Any,
                                                                             endpoint: Endpoint) -> None:
    dlq_url, dlq_arn = make_queue(sqs)
    topic = make_topic(sns)
    policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1}}
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url, ReturnSubscriptionArn=True,
                        Attributes={"RedrivePolicy": redrive(dlq_arn), "DeliveryPolicy": json.dumps(policy)}
                        )["SubscriptionArn"]
    [(_, raw)] = wait_until(lambda: endpoint.of_type("SubscriptionConfirmation"), what="a confirmation")
    sns.confirm_subscription(TopicArn=topic, Token=json.loads(raw)["Token"])
    endpoint.answers = [500] * 10
    message_id = sns.publish(TopicArn=topic, Message="unreachable")["MessageId"]
    [envelope] = bodies(receive(sqs, dlq_url, 1))
    assert envelope["MessageId"] == message_id
    assert envelope["UnsubscribeURL"].endswith(sub)
    assert len(endpoint.of_type("Notification")) == 3  # the first try and numRetries 2


def test_a_client_error_from_http_is_not_retried(sns: Any, sqs: Any, endpoint: Endpoint) -> None:
    dlq_url, dlq_arn = make_queue(sqs)
    topic = make_topic(sns)
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url,
                  Attributes={"RedrivePolicy": redrive(dlq_arn)})
    [(_, raw)] = wait_until(lambda: endpoint.of_type("SubscriptionConfirmation"), what="a confirmation")
    sns.confirm_subscription(TopicArn=topic, Token=json.loads(raw)["Token"])
    endpoint.answers = [404] * 10
    sns.publish(TopicArn=topic, Message="refused")
    receive(sqs, dlq_url, 1)
    assert len(endpoint.of_type("Notification")) == 1


def test_delivery_given_up_without_dlq_is_counted(server: LambdaliteProcess, sns: Any) -> None:
    topic = make_topic(sns)
    name = topic.rsplit(":", 1)[1]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:never-made")
    sns.publish(TopicArn=topic, Message="dropped")

    def failed() -> float:
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as response:
            text = response.read().decode()
        match = re.search(rf'^sns_NumberOfNotificationsFailed_total\{{TopicName="{name}"\}} (\S+)$', text, re.M)
        return float(match.group(1)) if match else 0.0

    wait_until(lambda: failed() == 1.0, what="the failure counted")
    assert any("gave up delivering Notification" in line and "never-made" in line
               for line in server.log_text().splitlines())


def test_sns_as_a_lambda_destination_publishes_the_record(sns: Any, sqs: Any, lam: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn)
    name = unique("echo")
    create_function(lam, name, ECHO)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": topic}})
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')["ResponseMetadata"][
        "RequestId"]
    [envelope] = bodies(receive(sqs, url, 1))
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 1} and record["responsePayload"] == {"got": {"n": 1}}


def test_sns_as_a_lambda_dead_letter_target(sns: Any, sqs: Any, lam: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn, RawMessageDelivery="true")
    name = unique("dies")
    create_function(lam, name, "def handler(event, context):\n    raise RuntimeError('nope')\n",
                    DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"keep": "as sent"}')[
        "ResponseMetadata"]["RequestId"]
    [message] = receive(sqs, url, 1)
    assert message["Body"] == '{"keep": "as sent"}'
    assert message["MessageAttributes"] == {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "nope"},
    }


SELF_PUBLISHING = """
import json
import boto3

def handler(event, context):
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    boto3.client("sns").publish(TopicArn=event["Records"][0]["Sns"]["TopicArn"],
                                Message=json.dumps({"n": message["n"] + 1}))
    return message
"""


def test_a_loop_through_sns_is_stopped_by_recursion_detection(server: LambdaliteProcess, sns: Any,
                                                             lam: Any) -> None:
    name = unique("looping")
    function_arn = create_function(lam, name, SELF_PUBLISHING)
    topic = make_topic(sns)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)

    def counter(metric: str) -> float:
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as response:
            text = response.read().decode()
        match = re.search(rf'^lambda_{metric}_total\{{function_name="{name}"\}} (\S+)$', text, re.M)
        return float(match.group(1)) if match else 0.0

    sns.publish(TopicArn=topic, Message=json.dumps({"n": 0}))  # the hop count travels through SNS
    wait_until(lambda: counter("RecursiveInvocationsDropped") == 1.0, timeout_s=60, what="the loop to be stopped")
    assert counter("Invocations") == 16


def test_a_destination_record_over_256_kb_goes_without_its_payloads(sns: Any, sqs: Any, lam: Any) -> None:
    url, arn = make_queue(sqs)
    topic = make_topic(sns)
    subscribe_queue(sns, topic, arn, RawMessageDelivery="true")
    name = unique("big")
    create_function(lam, name, "def handler(event, context):\n    return {'big': 'x' * 300000}\n")
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": topic}})
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')["ResponseMetadata"][
        "RequestId"]
    [message] = receive(sqs, url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert "requestPayload" not in record and "responsePayload" not in record
    assert record["responseContext"]["statusCode"] == 200
