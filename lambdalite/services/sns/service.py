"""The SNS service: AWS's query protocol (form posts, XML answers), the only one SNS speaks.

Routing (services/app.py): a request signed for `sns` comes here; an unsigned form post too when it
names SNS's API version or one of SNS's actions (`is_sns_form`). The links SNS puts in messages
(SubscribeURL, UnsubscribeURL: GETs from anyone's browser or endpoint, unsigned) and the signing
certificate are answered by `public_links` before authentication, as on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from lambdalite.destinations.sns_signing import signer
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.sns import errors, publish, query, subscriptions, topics
from lambdalite.services.sns.common import Ctx

Operation = Callable[[Ctx, dict[str, Any]], Awaitable[str | None]]

OPERATIONS: dict[str, Operation] = {
    "CreateTopic": topics.create_topic,
    "DeleteTopic": topics.delete_topic,
    "ListTopics": topics.list_topics,
    "GetTopicAttributes": topics.get_topic_attributes,
    "SetTopicAttributes": topics.set_topic_attributes,
    "TagResource": topics.tag_resource,
    "UntagResource": topics.untag_resource,
    "ListTagsForResource": topics.list_tags_for_resource,
    "Subscribe": subscriptions.subscribe,
    "ConfirmSubscription": subscriptions.confirm_subscription,
    "Unsubscribe": subscriptions.unsubscribe,
    "ListSubscriptions": subscriptions.list_subscriptions,
    "ListSubscriptionsByTopic": subscriptions.list_subscriptions_by_topic,
    "GetSubscriptionAttributes": subscriptions.get_subscription_attributes,
    "SetSubscriptionAttributes": subscriptions.set_subscription_attributes,
}
_TRACED: dict[str, Callable[[Ctx, dict[str, Any], str | None], Awaitable[str]]] = {
    "Publish": publish.publish,
    "PublishBatch": publish.publish_batch,
}
# Actions only SNS has (SQS's query actions share none of them): how an unsigned form post is told apart.
SNS_ACTIONS = frozenset(OPERATIONS) | frozenset(_TRACED) | {
    "AddPermission", "RemovePermission", "CreatePlatformApplication", "CreatePlatformEndpoint",
    "GetDataProtectionPolicy", "PutDataProtectionPolicy", "CheckIfPhoneNumberIsOptedOut", "GetSMSAttributes",
}
_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z]+)")
_VERSION = b"Version=2010-03-31"
_PUBLIC_ACTIONS = ("ConfirmSubscription", "Unsubscribe")
_CERT = re.compile(r"/SimpleNotificationService-[0-9a-f]+\.pem")


def is_sns_form(request: Request) -> bool:
    """An unsigned request in SNS's query protocol (form post or GET with SNS's version or action)."""
    if request.method == "POST":
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return False
        if _VERSION in request.body:
            return True
        match = _ACTION.search(request.body)
        return match is not None and match.group(1).decode() in SNS_ACTIONS
    return request.query.get("Action", "") in SNS_ACTIONS and request.query.get("Version", "2010-03-31") == "2010-03-31"


class SnsService:
    name = "sns"

    def __init__(self, node: Node):
        self.node = node

    async def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        action, params = query.parse_form(request.body, request.query)
        ctx = Ctx(self.node, request.region)
        traced = _TRACED.get(action)
        if traced is not None:
            result: str | None = await traced(ctx, params, request.headers.get("x-amzn-trace-id"))
        else:
            operation = OPERATIONS.get(action)
            if operation is None:
                raise errors.unsupported(action)
            result = await operation(ctx, params)
        return query.document(action, result, request_id)

    def error_response(self, error: AwsError, request_id: str) -> Response:
        return query.error_response(error, request_id)

    async def public_links(self, request: Request) -> Response | None:
        """GET SubscribeURL / UnsubscribeURL / SigningCertURL: unsigned, answered before authentication."""
        if request.method != "GET":
            return None
        if _CERT.fullmatch(request.path):
            signing = signer(self.node.settings.data_dir)
            if request.path.lstrip("/") != signing.cert_name:
                return Response(404, b"", [], None)
            return Response(200, signing.cert_pem, [], "application/x-x509-ca-cert")
        if request.path == "/" and request.query.get("Action") in _PUBLIC_ACTIONS and not request.signed_service:
            try:
                return await self.handle(request)
            except AwsError as err:
                return self.error_response(err, new_request_id())
        return None
