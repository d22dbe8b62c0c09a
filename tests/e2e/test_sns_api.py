"""The SNS API end to end with boto3 and the AWS CLI v2: topics, subscriptions, attributes, tags,
paging, AWS's errors for bad input, and how unsigned query-protocol requests are routed."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_sns_helpers import ACCOUNT, REGION, make_queue, make_topic, subscribe_queue, unique
from tests.support.awscli import cli_json, run_cli
from tests.support.server import LambdaliteProcess, module_client, module_server

server = module_server("sns-api")
sns = module_client("sns")
sqs = module_client("sqs")


def error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_topics_create_idempotently_list_get_set_and_delete(sns: Any) -> None:
    name = unique("topic")
    arn = make_topic(sns, name)
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert make_topic(sns, name) == arn
    assert {"TopicArn": arn} in sns.list_topics()["Topics"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shown")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Shown" and attributes["TopicArn"] == arn and attributes["Owner"] == ACCOUNT
    assert (attributes["SubscriptionsConfirmed"], attributes["SubscriptionsPending"],
            attributes["SubscriptionsDeleted"]) == ("0", "0", "0")
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == arn
    assert json.loads(attributes["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert error_of(sns.create_topic, Name=name, Attributes={"DisplayName": "Other"})[2] == (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes")
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # missing: still 200
    assert {"TopicArn": arn} not in sns.list_topics()["Topics"]


def test_list_topics_pages_by_100(sns: Any) -> None:
    prefix = unique("page")
    made = {make_topic(sns, f"{prefix}-{i:03d}") for i in range(105)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    second = sns.list_topics(NextToken=first["NextToken"])
    seen = {t["TopicArn"] for t in first["Topics"] + second["Topics"]}
    assert made <= seen
    for arn in made:
        sns.delete_topic(TopicArn=arn)


def test_tags(sns: Any) -> None:
    arn = make_topic(sns)
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]


def test_subscriptions_attributes_list_and_unsubscribe(sns: Any, sqs: Any) -> None:
    _, queue = make_queue(sqs)
    topic = make_topic(sns)
    sub = subscribe_queue(sns, topic, queue)
    assert subscribe_queue(sns, topic, queue) == sub  # same protocol and endpoint: same subscription
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes == {
        "ConfirmationWasAuthenticated": "true", "Endpoint": queue, "Owner": ACCOUNT, "PendingConfirmation": "false",
        "Protocol": "sqs", "RawMessageDelivery": "false", "SubscriptionArn": sub,
        "SubscriptionPrincipal": f"arn:aws:iam::{ACCOUNT}:root", "TopicArn": topic,
    }
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"a": ["b"]}')
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="True")
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert (attributes["FilterPolicy"], attributes["FilterPolicyScope"], attributes["RawMessageDelivery"]) == (
        '{"a": ["b"]}', "MessageAttributes", "true")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue="")
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert "FilterPolicy" not in attributes and "FilterPolicyScope" not in attributes
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed == [{"SubscriptionArn": sub, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": queue,
                       "TopicArn": topic}]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=sub)
    sns.unsubscribe(SubscriptionArn=sub)  # unknown now: still 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert error_of(sns.get_subscription_attributes, SubscriptionArn=sub) == (
        404, "NotFound", "Subscription does not exist")


def test_deleting_a_topic_removes_its_subscriptions(sns: Any, sqs: Any) -> None:
    _, queue = make_queue(sqs)
    topic = make_topic(sns)
    sub = subscribe_queue(sns, topic, queue)
    sns.delete_topic(TopicArn=topic)
    assert all(s["SubscriptionArn"] != sub for s in sns.list_subscriptions()["Subscriptions"])


MISSING = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"


@pytest.mark.parametrize(("operation", "kwargs"), [
    ("get_topic_attributes", {"TopicArn": MISSING}),
    ("publish", {"TopicArn": MISSING, "Message": "m"}),
    ("subscribe", {"TopicArn": MISSING, "Protocol": "sqs", "Endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}),
    ("list_subscriptions_by_topic", {"TopicArn": MISSING}),
    ("publish_batch", {"TopicArn": MISSING, "PublishBatchRequestEntries": [{"Id": "a", "Message": "m"}]}),
])
def test_unknown_topic_is_not_found(sns: Any, operation: str, kwargs: dict[str, Any]) -> None:
    assert error_of(getattr(sns, operation), **kwargs) == (404, "NotFound", "Topic does not exist")


def test_malformed_arns(sns: Any) -> None:
    assert error_of(sns.publish, TopicArn="nope", Message="m") == (
        400, "InvalidParameter", "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1")
    assert error_of(sns.get_topic_attributes, TopicArn="arn:aws:sns")[2] == (
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 3")
    assert error_of(sns.unsubscribe, SubscriptionArn="a:b")[2] == (
        "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 2")
    assert error_of(sns.get_subscription_attributes, SubscriptionArn=MISSING)[2] == "Invalid parameter: SubscriptionId"
    assert error_of(sns.create_topic, Name="bad name!")[2] == "Invalid parameter: Topic Name"


def test_invalid_filter_policies(sns: Any, sqs: Any) -> None:
    _, queue = make_queue(sqs)
    topic = make_topic(sns)

    def on_subscribe(policy: str, scope: str = "MessageAttributes") -> str:
        return error_of(sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint=queue,
                        Attributes={"FilterPolicy": policy, "FilterPolicyScope": scope})[2]

    prefix = "Invalid parameter: Attributes Reason: FilterPolicy: "
    assert on_subscribe("{not json") == prefix + "failed to parse JSON."
    assert on_subscribe('{"a": ["b"], "c": ["d"], "e": ["f"], "g": ["h"], "i": ["j"], "k": ["l"]}') == (
        prefix + "Filter policy can not have more than 5 keys")
    assert on_subscribe('{"a": [{"wildcard": "x*"}]}') == prefix + "Unrecognized match type wildcard"
    assert on_subscribe('{"a": []}') == prefix + "Empty arrays are not allowed"
    assert on_subscribe('{"a": "b"}') == prefix + '"a" must be an object or an array'
    assert on_subscribe('{"a": {"b": ["c"]}}') == (
        prefix + "Filter policy scope MessageAttributes does not support nested filter policy")
    many = json.dumps({k: list(range(6)) for k in "abc"})  # 216 combinations
    assert on_subscribe(many, "MessageBody") == prefix + "Filter policy is too complex"
    sub = subscribe_queue(sns, topic, queue)
    assert error_of(sns.set_subscription_attributes, SubscriptionArn=sub, AttributeName="FilterPolicy",
                    AttributeValue="[1") == (400, "InvalidParameter", "Invalid parameter: FilterPolicy: "
                                                                      "failed to parse JSON.")


def test_invalid_subscription_attributes_and_endpoints(sns: Any, sqs: Any) -> None:
    _, queue = make_queue(sqs)
    topic = make_topic(sns)
    sub = subscribe_queue(sns, topic, queue)

    def on_set(name: str, value: str) -> str:
        return error_of(sns.set_subscription_attributes, SubscriptionArn=sub, AttributeName=name,
                        AttributeValue=value)[2]

    assert on_set("RawMessageDelivery", "yes") == (
        "Invalid parameter: RawMessageDelivery: Invalid value [yes]. Must be true or false.")
    assert on_set("FilterPolicyScope", "Body") == (
        "Invalid parameter: FilterPolicyScope: Invalid value [Body]. Please use either MessageBody or MessageAttributes")
    assert on_set("RedrivePolicy", '{"deadLetterTargetArn": "not-an-arn"}') == (
        "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn")
    assert on_set("Color", "red") == "Invalid parameter: AttributeName"
    assert error_of(sns.subscribe, TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x")[2] == (
        "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon")
    assert error_of(sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint="https://sqs/queue")[2] == (
        "Invalid parameter: SQS endpoint ARN")
    assert error_of(sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint=queue,
                    Attributes={"RawMessageDelivery": "1"})[2] == (
        "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [1]. Must be true or false.")
    assert error_of(sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint=queue,
                    Attributes={"RawMessageDelivery": "true"})[2] == (
        "Invalid parameter: Attributes Reason: Subscription already exists with different attributes")
    assert error_of(sns.confirm_subscription, TopicArn=topic, Token="bogus")[2] == "Invalid parameter: Token"


def test_invalid_publish_input(sns: Any) -> None:
    topic = make_topic(sns)
    assert error_of(sns.publish, TopicArn=topic, Message="") == (400, "InvalidParameter",
                                                                 "Invalid parameter: Empty message")
    assert error_of(sns.publish, TopicArn=topic, Message="x" * 262_145)[2] == "Invalid parameter: Message too long"
    assert error_of(sns.publish, TopicArn=topic, Message="m", Subject="a\nb")[2] == "Invalid parameter: Subject"
    assert error_of(sns.publish, TopicArn=topic, Message="m", Subject="s" * 100)[2] == "Invalid parameter: Subject"
    assert error_of(sns.publish, TopicArn=topic, Message="{", MessageStructure="json")[2] == (
        "Invalid parameter: Message Structure - JSON message body failed to parse")
    assert error_of(sns.publish, TopicArn=topic, Message='{"sqs": "x"}', MessageStructure="json")[2] == (
        "Invalid parameter: Message Structure - No default entry in JSON message body")
    assert error_of(sns.publish, TopicArn=topic, Message="m",
                    MessageAttributes={"n": {"DataType": "Float", "StringValue": "1"}}) == (
        400, "ParameterValueInvalid", "The message attribute 'n' has an invalid message attribute type, the set of "
                                      "supported type prefixes is Binary, Number, and String.")
    assert error_of(sns.publish, TopicArn=topic, Message="m",
                    MessageAttributes={"e": {"DataType": "String", "StringValue": ""}})[2] == (
        "The message attribute 'e' must contain non-empty message attribute value for message attribute type "
        "'String'.")


def test_topic_maximum_message_size(sns: Any) -> None:
    topic = make_topic(sns)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="MaximumMessageSize", AttributeValue="2048")
    sns.publish(TopicArn=topic, Message="x" * 2048)
    assert error_of(sns.publish, TopicArn=topic, Message="x" * 2049)[2] == "Invalid parameter: Message too long"
    assert error_of(sns.set_topic_attributes, TopicArn=topic, AttributeName="MaximumMessageSize",
                    AttributeValue="10")[2] == (
        "Invalid parameter: MaximumMessageSize: Invalid value [10]. Must be between 1024 and 1048576.")


def test_invalid_batches(sns: Any) -> None:
    topic = make_topic(sns)
    entries = [{"Id": f"e{i}", "Message": "m"} for i in range(11)]
    assert error_of(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=entries) == (
        400, "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")
    assert error_of(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}])[1:] == (
        "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
    assert error_of(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=[{"Id": "a.b", "Message": "m"}])[
        1:] == ("InvalidBatchEntryId", "The Id of a batch entry in the batch request contains an impermissible "
                                       "character: a.b")
    assert error_of(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "m"}, {"Id": "b", "Message": ""}])[2] == "Invalid parameter: Empty message"
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}])
    assert [e["Id"] for e in answer["Successful"]] == ["a"] and answer["Failed"] == []


def test_error_envelope_is_sns_xml(server: LambdaliteProcess) -> None:
    body = urllib.parse.urlencode({"Action": "GetTopicAttributes", "Version": "2010-03-31",
                                   "TopicArn": MISSING}).encode()
    request = urllib.request.Request(server.endpoint + "/", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    xml = caught.value.read().decode()
    assert caught.value.code == 404 and caught.value.headers["Content-Type"] == "text/xml"
    assert ('<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            "<Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>") in xml


def _unsigned(server: LambdaliteProcess, form: dict[str, str]) -> str:
    request = urllib.request.Request(server.endpoint + "/", data=urllib.parse.urlencode(form).encode(),
                                     method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def test_unsigned_query_requests_route_by_version_or_action(server: LambdaliteProcess, sns: Any) -> None:
    topic = make_topic(sns)
    assert topic in _unsigned(server, {"Action": "ListTopics", "Version": "2010-03-31"})
    assert topic in _unsigned(server, {"Action": "ListTopics"})  # no version: SNS's action name
    assert "<ListQueuesResponse" in _unsigned(server, {"Action": "ListQueues", "Version": "2012-11-05"})


def test_aws_cli_v2_walkthrough(server: LambdaliteProcess, sqs: Any) -> None:
    url, queue = make_queue(sqs)
    name = unique("cli")
    topic = cli_json(2, server.endpoint, ["sns", "create-topic", "--name", name])["TopicArn"]
    assert topic == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    sub = cli_json(2, server.endpoint, ["sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs",
                                        "--notification-endpoint", queue, "--attributes",
                                        '{"RawMessageDelivery": "true"}'])["SubscriptionArn"]
    listed = cli_json(2, server.endpoint, ["sns", "list-subscriptions-by-topic", "--topic-arn", topic])
    assert [s["SubscriptionArn"] for s in listed["Subscriptions"]] == [sub]
    published = cli_json(2, server.endpoint, ["sns", "publish", "--topic-arn", topic, "--message", "from the cli",
                                              "--message-attributes",
                                              '{"k": {"DataType": "String", "StringValue": "v"}}'])
    assert len(published["MessageId"]) == 36
    messages: list[dict[str, Any]] = []
    for _ in range(30):
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get(
            "Messages", [])
        if messages:
            break
    assert messages and messages[0]["Body"] == "from the cli"
    failed = run_cli(2, server.endpoint, ["sns", "publish", "--topic-arn", MISSING, "--message", "m"], check=False)
    assert failed.returncode != 0
    assert "An error occurred (NotFound) when calling the Publish operation: Topic does not exist" in failed.stderr
