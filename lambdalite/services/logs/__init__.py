"""CloudWatch Logs (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`) over lambdalite's function logs.

The subset `aws logs tail [--follow]`, filter-log-events, get-log-events and describe-log-groups/-streams
use: group /aws/lambda/NAME per function with logs, one stream per execution environment (named as
Lambda names them), events read from the store's function logs (model/function_log.py makes events of
the writes): files in the data folder on SQLite, rows every node shares on PostgreSQL. Retention
(Put/DeleteRetentionPolicy) is kept in the store and enforced: older text is deleted, older events hidden.
CreateLogGroup / DeleteLogGroup exist for tools that manage the group themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, new_request_id, parse_json_body
from lambdalite.services.logs import events, groups
from lambdalite.services.logs.groups import enforce_retention

__all__ = ["LogsService", "enforce_retention"]
CONTENT_TYPE = "application/x-amz-json-1.1"
Handler = Callable[[Node, Request, dict[str, Any]], Awaitable[Any]]


class LogsService:
    name = "logs"

    def __init__(self, node: Node):
        self.node = node

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        op = target.partition(".")[2]
        handler = _OPS.get(op)
        if handler is None:
            raise AwsError(400, "UnknownOperationException",
                           f"{op or target or 'This operation'} is not supported by lambdalite.", type_=None)
        body = parse_json_body(request.body, code="SerializationException")
        if not isinstance(body, dict):
            raise AwsError(400, "SerializationException", "Request body must be a JSON object", type_=None)
        data = await handler(self.node, request, body)
        return Response(200, orjson.dumps(data), [("x-amzn-RequestId", new_request_id())], CONTENT_TYPE)

    def error_response(self, error: AwsError, request_id: str) -> Response:
        body = orjson.dumps({"__type": error.code, "message": error.message})
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code), *error.headers]
        return Response(error.status, body, headers, CONTENT_TYPE)



_OPS: dict[str, Handler] = {
    "ListTagsForResource": groups.list_tags,
    "ListTagsLogGroup": groups.list_tags,
    "TagResource": groups.tag_resource,
    "TagLogGroup": groups.tag_resource,
    "UntagResource": groups.untag_resource,
    "UntagLogGroup": groups.untag_resource,
    "DescribeLogGroups": groups.describe_log_groups,
    "DescribeLogStreams": events.describe_log_streams,
    "GetLogEvents": events.get_log_events,
    "FilterLogEvents": events.filter_log_events,
    "PutRetentionPolicy": groups.put_retention_policy,
    "DeleteRetentionPolicy": groups.delete_retention_policy,
    "CreateLogGroup": groups.create_log_group,
    "DeleteLogGroup": groups.delete_log_group,
}

