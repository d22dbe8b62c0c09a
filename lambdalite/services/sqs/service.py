"""The SQS service: JSON 1.0 (`X-Amz-Target: AmazonSQS.<Op>`, boto3 >= 1.34) and the query protocol
(form-encoded `Action=...`, XML; AWS CLI v2 2.9) over the same protocol-neutral operations."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.sqs import errors, move_tasks, permissions, query, queue_ops, receive, send
from lambdalite.services.sqs.common import Ctx, Params

Operation = Callable[[Ctx, Params], Awaitable[dict[str, Any]]]

OPERATIONS: dict[str, Operation] = {
    "CreateQueue": queue_ops.create_queue,
    "GetQueueUrl": queue_ops.get_queue_url,
    "ListQueues": queue_ops.list_queues,
    "DeleteQueue": queue_ops.delete_queue,
    "PurgeQueue": queue_ops.purge_queue,
    "GetQueueAttributes": queue_ops.get_queue_attributes,
    "SetQueueAttributes": queue_ops.set_queue_attributes,
    "TagQueue": queue_ops.tag_queue,
    "UntagQueue": queue_ops.untag_queue,
    "ListQueueTags": queue_ops.list_queue_tags,
    "ListDeadLetterSourceQueues": queue_ops.list_dead_letter_source_queues,
    "AddPermission": permissions.add_permission,
    "RemovePermission": permissions.remove_permission,
    "SendMessage": send.send_message,
    "SendMessageBatch": send.send_message_batch,
    "ReceiveMessage": receive.receive_message,
    "DeleteMessage": receive.delete_message,
    "DeleteMessageBatch": receive.delete_message_batch,
    "ChangeMessageVisibility": receive.change_message_visibility,
    "ChangeMessageVisibilityBatch": receive.change_message_visibility_batch,
    "StartMessageMoveTask": move_tasks.start_message_move_task,
    "ListMessageMoveTasks": move_tasks.list_message_move_tasks,
    "CancelMessageMoveTask": move_tasks.cancel_message_move_task,
}
_JSON = "application/x-amz-json-1.0"
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


class SqsService:
    name = "sqs"

    def __init__(self, node: Node):
        self.node = node

    def _ctx(self, request: Request) -> Ctx:
        match = _ACCESS_KEY.search(request.headers.get("authorization", ""))
        sender = match.group(1) if match else self.node.settings.account_id
        return Ctx(self.node, request.region, request.host, sender)

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        if not target:
            return await query.handle(self._ctx(request), request, OPERATIONS)
        operation = OPERATIONS.get(target.removeprefix("AmazonSQS."))
        if operation is None or not target.startswith("AmazonSQS."):
            raise errors.SqsError("UnsupportedOperation",
                                  f"The action {target.removeprefix('AmazonSQS.')} is not supported by lambdalite.")
        params = _parse(request.body)
        result = await operation(self._ctx(request), params)
        return Response(200, orjson.dumps(result), [("x-amzn-RequestId", new_request_id())], _JSON)

    def error_response(self, error: AwsError, request_id: str) -> Response:
        headers = [("x-amzn-RequestId", request_id), *error.headers]
        if not any(k == "x-amzn-query-error" for k, _ in error.headers):
            fault = "Receiver" if error.status >= 500 else "Sender"
            headers.append(("x-amzn-query-error", f"{error.code};{fault}"))
        body = orjson.dumps({"__type": f"com.amazonaws.sqs#{error.code}", "message": error.message})
        return Response(error.status, body, headers, _JSON)


def _parse(body: bytes) -> Params:
    if not body.strip():
        return {}
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.invalid_parameter("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise errors.invalid_parameter("The request body must be a JSON object.")
    return params
