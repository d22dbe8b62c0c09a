"""What SNS delivers (contract 1.2), pure: Publish's fan-out into one job per matching subscription,
and the payloads built from a job: the Lambda event record, the SQS/HTTP JSON envelope, raw delivery.

A job's body is a JSON "spec": the message as its subscription receives it (the protocol's message of
a `MessageStructure=json` publish, attributes unless structured) plus the subscription's delivery
settings as they were at Publish. Payloads are rebuilt from it at each try (a signature is made then).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from lambdalite.destinations.record import iso_ms
from lambdalite.destinations.sns_filter import FilterPolicy, PolicyError
from lambdalite.model.queue import NewMessage
from lambdalite.model.sns import SNS_DELIVERY_KIND, SubscriptionRecord, delivery_queue

Sign = Callable[[dict[str, Any], str], str]  # (message, SignatureVersion) -> base64 signature
Spec = dict[str, Any]
MESSAGE_VERSION = "1"  # SignatureVersion unless the topic's attribute says "2" (SHA256)


@dataclass(frozen=True, slots=True)
class Published:
    message_id: str
    topic_arn: str
    message: str
    subject: str | None
    attributes: dict[str, dict[str, str]]  # SNS form: {name: {"Type": ..., "Value": ...}} (Binary: base64)
    timestamp_ms: int
    structure: dict[str, str] | None = None  # MessageStructure=json: a message per protocol ("default")
    trace_id: str | None = None
    topic_delivery_policy: str | None = None
    signature_version: str = MESSAGE_VERSION

    def message_for(self, protocol: str) -> str:
        if self.structure is None:
            return self.message
        return str(self.structure.get(protocol, self.structure["default"]))


@functools.lru_cache(maxsize=1024)
def _policy(text: str, scope: str) -> FilterPolicy | None:
    try:
        return FilterPolicy.parse(text, scope)
    except PolicyError:
        return None


def passes(subscription: SubscriptionRecord, attributes: dict[str, dict[str, str]], message: str) -> bool:
    text = subscription.attributes.get("FilterPolicy")
    if not text:
        return True
    policy = _policy(text, subscription.attributes.get("FilterPolicyScope", "MessageAttributes"))
    return policy is not None and policy.matches(attributes, message)


def subscription_spec(subscription: SubscriptionRecord, topic_delivery_policy: str | None) -> Spec:
    """The subscription's side of a job: where and how it is delivered."""
    redrive = subscription.attributes.get("RedrivePolicy")
    dlq = orjson.loads(redrive).get("deadLetterTargetArn") if redrive else None
    return {
        "subscription_arn": subscription.arn, "protocol": subscription.protocol, "endpoint": subscription.endpoint,
        "raw": subscription.attributes.get("RawMessageDelivery") == "true", "dlq": dlq,
        "delivery_policy": subscription.attributes.get("DeliveryPolicy"),
        "topic_delivery_policy": topic_delivery_policy,
    }


def fan_out(published: Published) -> Callable[[list[SubscriptionRecord]], list[NewMessage]]:
    """For `Store.sns_publish`: one delivery job per confirmed subscription whose filter lets it through."""

    def build(subscriptions: list[SubscriptionRecord]) -> list[NewMessage]:
        jobs = []
        attributes = {} if published.structure is not None else published.attributes
        for subscription in subscriptions:
            message = published.message_for(subscription.protocol)
            if not passes(subscription, published.attributes, message):  # filtered on what was published
                continue
            spec = {
                "type": "Notification", "message_id": published.message_id, "topic_arn": published.topic_arn,
                "subject": published.subject, "message": message, "timestamp_ms": published.timestamp_ms,
                "attributes": attributes, "trace_id": published.trace_id,
                "signature_version": published.signature_version,
                **subscription_spec(subscription, published.topic_delivery_policy),
            }
            jobs.append(job(spec, f"{published.message_id}/{subscription.arn.rsplit(':', 1)[-1]}"))
        return jobs

    return build


def job(spec: Spec, id: str) -> NewMessage:
    return NewMessage(kind=SNS_DELIVERY_KIND, queue=delivery_queue(spec["topic_arn"]), id=id, body=orjson.dumps(spec))


# ---- payloads ----------------------------------------------------------------------------------------


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    return f"{base_url}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def subscribe_url(base_url: str, topic_arn: str, token: str) -> str:
    return f"{base_url}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={quote(token)}"


def signature_version(spec: Spec) -> str:
    return "2" if spec.get("signature_version") == "2" else MESSAGE_VERSION


def signed_fields(spec: Spec) -> dict[str, Any]:
    """The signed core of a notification: Type, MessageId, TopicArn, Subject, Message, Timestamp."""
    return {"Type": spec["type"], "MessageId": spec["message_id"], "TopicArn": spec["topic_arn"],
            "Subject": spec["subject"], "Message": spec["message"], "Timestamp": iso_ms(spec["timestamp_ms"])}


def envelope(spec: Spec, base_url: str, cert_url: str, sign: Sign) -> dict[str, Any]:
    """The JSON an SQS queue or an HTTP endpoint gets (`URL` spelt in capitals; Subject and
    MessageAttributes only when there are some)."""
    core = signed_fields(spec)
    if spec["type"] == "SubscriptionConfirmation":
        out = {"Type": core["Type"], "MessageId": core["MessageId"], "Token": spec["token"],
               "TopicArn": core["TopicArn"], "Message": core["Message"],
               "SubscribeURL": subscribe_url(base_url, spec["topic_arn"], spec["token"]),
               "Timestamp": core["Timestamp"]}
    else:
        out = {k: v for k, v in core.items() if v is not None}
    out["SignatureVersion"] = signature_version(spec)
    out["Signature"] = sign(out, signature_version(spec))
    out["SigningCertURL"] = cert_url
    if spec["type"] == "Notification":
        out["UnsubscribeURL"] = unsubscribe_url(base_url, spec["subscription_arn"])
        if spec["attributes"]:
            out["MessageAttributes"] = spec["attributes"]
    return out


def lambda_event(spec: Spec, base_url: str, cert_url: str, sign: Sign) -> dict[str, Any]:
    """AWS's SNS event record for a `lambda` subscription (`Url`, Subject null, attributes {} when none)."""
    core = signed_fields(spec)
    signature = sign({k: v for k, v in core.items() if v is not None}, signature_version(spec))
    sns = {**core, "SignatureVersion": signature_version(spec), "Signature": signature, "SigningCertUrl": cert_url,
           "UnsubscribeUrl": unsubscribe_url(base_url, spec["subscription_arn"]),
           "MessageAttributes": spec["attributes"]}
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": spec["subscription_arn"], "Sns": sns}]}


def sqs_attributes(attributes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Raw delivery to SQS: the published attributes as SQS message attributes."""
    out = {}
    for name, attribute in attributes.items():
        kind = attribute["Type"]
        value_key = "BinaryValue" if kind.startswith("Binary") else "StringValue"
        out[name] = {"DataType": kind, value_key: attribute["Value"]}
    return out


def confirmation_spec(subscription: SubscriptionRecord, message_id: str, timestamp_ms: int) -> Spec:
    """The SubscriptionConfirmation an http(s) endpoint is sent on Subscribe."""
    return {
        "type": "SubscriptionConfirmation", "message_id": message_id, "topic_arn": subscription.topic_arn,
        "subject": None, "timestamp_ms": timestamp_ms, "attributes": {}, "trace_id": None,
        "token": subscription.token,
        "message": f"You have chosen to subscribe to the topic {subscription.topic_arn}.\n"
                   "To confirm the subscription, visit the SubscribeURL included in this message.",
        **subscription_spec(subscription, None),
    }
