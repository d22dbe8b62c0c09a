"""The S3 service (REST + XML, path style): routes `/{bucket}/{key}?subresource` to its operation.

Signed requests reach it by their SigV4 scope (`.../s3/aws4_request`); unsigned path-style ones by their
shape (services/app.py). Every answer carries `x-amz-request-id` and `x-amz-id-2`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lambdalite.node import Node
from lambdalite.services.http import AwsError, BodySink, Request, Response
from lambdalite.services.s3 import buckets, listing, multipart, objects
from lambdalite.services.s3.context import Call
from lambdalite.services.s3.spool import Spools
from lambdalite.services.s3.wire import error_response, s3_error, xml_response

Operation = Callable[[Call], Awaitable[Response]]

# Bucket subresources lambdalite does not serve: S3's NotImplemented, not a wrong answer.
_UNSERVED = ("acl", "cors", "encryption", "lifecycle", "logging", "policy", "replication", "tagging", "website",
             "versions", "object-lock", "ownershipControls", "publicAccessBlock", "accelerate", "analytics",
             "inventory", "metrics", "intelligent-tiering", "requestPayment", "retention", "legal-hold", "restore",
             "select", "torrent", "attributes")


def _not_implemented() -> AwsError:
    return s3_error(501, "NotImplemented", "A header you provided implies functionality that is not implemented")


def _bucket_operation(method: str, query: dict[str, str]) -> Operation:
    if method == "PUT":
        if "notification" in query:
            return buckets.put_notification
        if "versioning" in query:
            raise _not_implemented()
        return buckets.create_bucket
    if method == "HEAD":
        return buckets.head_bucket
    if method == "GET":
        for name, operation in (("location", buckets.get_location), ("notification", buckets.get_notification),
                                ("uploads", multipart.list_uploads), ("versioning", _versioning)):
            if name in query:
                return operation
        return listing.list_v2 if query.get("list-type") == "2" else listing.list_v1
    if method == "DELETE":
        return buckets.delete_bucket
    if method == "POST" and "delete" in query:
        return objects.delete_objects
    raise _not_implemented()


def _object_operation(method: str, query: dict[str, str], headers: dict[str, str]) -> Operation:
    if method == "PUT":
        if "partNumber" in query or "uploadId" in query:
            return multipart.upload_part
        return objects.copy_object if "x-amz-copy-source" in headers else objects.put_object
    if method == "GET":
        return multipart.list_parts if "uploadId" in query else objects.get_object
    if method == "HEAD":
        return _head_object
    if method == "DELETE":
        return multipart.abort if "uploadId" in query else objects.delete_object
    if method == "POST":
        if "uploads" in query:
            return multipart.create
        if "uploadId" in query:
            return multipart.complete
    raise _not_implemented()


async def _head_object(call: Call) -> Response:
    return await objects.get_object(call, head=True)


async def _versioning(call: Call) -> Response:
    await call.bucket_record()
    return xml_response("VersioningConfiguration", "")


def operation_of(request: Request, bucket: str, key: str) -> Operation:
    if any(name in request.query for name in _UNSERVED):
        raise _not_implemented()
    if not bucket:
        if request.method == "GET":
            return buckets.list_buckets
        raise _not_implemented()
    if not key:
        return _bucket_operation(request.method, request.query)
    return _object_operation(request.method, request.query, request.headers)


def split_path(path: str) -> tuple[str, str]:
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


class S3Service:
    name = "s3"

    def __init__(self, node: Node):
        self.node = node
        self.spools = Spools(node.settings.data_dir)

    def body_sink(self, request: Request) -> BodySink | None:
        """An object or part PUT streams its body to a temp file (never held in memory)."""
        bucket, key = split_path(request.path)
        if bucket and key and "x-amz-copy-source" not in request.headers and "notification" not in request.query:
            return self.spools.sink(request.headers)
        return None

    async def handle(self, request: Request) -> Response:
        bucket, key = split_path(request.path)
        call = Call(self.node, self.spools, request, bucket, key)
        try:
            response = await operation_of(request, bucket, key)(call)
        except AwsError as err:
            response = error_response(err, call.request_id)
            response.headers[:2] = [("x-amz-request-id", call.request_id), ("x-amz-id-2", call.host_id)]
            return response
        response.headers += [("x-amz-request-id", call.request_id), ("x-amz-id-2", call.host_id)]
        return response

    def error_response(self, error: AwsError, request_id: str) -> Response:
        return error_response(error, request_id)
