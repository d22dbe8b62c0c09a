"""TagResource / UntagResource / ListTags on functions, and the Tags of CreateFunction and GetFunction.

Tags belong to the function (AWS refuses them on a qualified ARN) and go with it when it is deleted.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from lambdalite.arn import check_scope, parse_function_name
from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, empty_response, json_response
from lambdalite.services.lambda_api.common import arn_of, body_object, require_function
from lambdalite.services.lambda_api.config import check_tags

MAX_TAGS = 50


async def _function_arn(node: Node, request: Request, resource: str) -> str:
    """The tagged function's unqualified ARN; 400 for anything but a function ARN, 404 when missing."""
    if not resource.startswith("arn:"):
        raise AwsError(400, "ValidationException", f"1 validation error detected: Value '{resource}' at "
                       "'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: "
                       r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
                       r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:[a-zA-Z0-9-_]+)",
                       type_=None)
    ref = parse_function_name(resource)
    check_scope(ref, request.region, node.settings.account_id)
    if ref.qualifier is not None:
        raise AwsError(400, "InvalidParameterValueException",
                       "Tags are not supported on a function qualifier: tag the unqualified function ARN.")
    await require_function(node, request, ref.name)
    return arn_of(node, request, ref.name)


async def store_create_tags(node: Node, arn: str, tags: dict[str, str] | None) -> None:
    """CreateFunction's Tags (a new function starts with exactly these)."""
    await node.store.set_tags(arn, lambda _current: dict(tags or {}))


async def tags_of(node: Node, arn: str) -> dict[str, str]:
    return await node.store.get_tags(arn)


async def forget_tags(node: Node, arn: str) -> None:
    await node.store.delete_tags(arn)


async def list_tags(node: Node, request: Request, resource: str) -> Response:
    arn = await _function_arn(node, request, resource)
    return json_response({"Tags": await node.store.get_tags(arn)})


async def tag_resource(node: Node, request: Request, resource: str) -> Response:
    arn = await _function_arn(node, request, resource)
    tags = body_object(request).get("Tags")
    if tags is None:
        raise AwsError(400, "ValidationException", "1 validation error detected: Value null at 'tags' failed to "
                       "satisfy constraint: Member must not be null", type_=None)
    check_tags(tags)

    def merge(current: dict[str, str]) -> dict[str, str]:
        merged = {**current, **tags}
        if len(merged) > MAX_TAGS:
            raise AwsError(400, "InvalidParameterValueException",
                           f"Number of tags exceeds resource tag limit. Tag limit: {MAX_TAGS}")
        return merged

    await node.store.set_tags(arn, merge)
    return empty_response(204)


async def untag_resource(node: Node, request: Request, resource: str) -> Response:
    arn = await _function_arn(node, request, resource)
    keys = set(parse_qs(request.raw_query).get("tagKeys", []))
    await node.store.set_tags(arn, lambda current: {k: v for k, v in current.items() if k not in keys})
    return empty_response(204)


ROUTES = [
    ("GET", r"/2017-03-31/tags/(?P<resource>[^/]+)/?", list_tags),
    ("POST", r"/2017-03-31/tags/(?P<resource>[^/]+)/?", tag_resource),
    ("DELETE", r"/2017-03-31/tags/(?P<resource>[^/]+)/?", untag_resource),
]
