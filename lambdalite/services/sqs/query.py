"""The query protocol (form-encoded `Action=...`, XML answers) that older clients such as AWS CLI v2 2.9
speak to SQS: translate the form into the JSON-shaped params and the result back into XML."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.sqs import errors
from lambdalite.services.sqs.common import Ctx, Params

log = logging.getLogger(__name__)

Operation = Callable[[Ctx, Params], Awaitable[dict[str, Any]]]
_XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"
_XML = "text/xml"
# flattened form prefix -> (JSON member, key field, value field) for maps
_MAPS = {
    "Attribute": ("Attributes", "Name", "Value"),
    "MessageAttribute": ("MessageAttributes", "Name", "Value"),
    "MessageSystemAttribute": ("MessageSystemAttributes", "Name", "Value"),
}
# flattened form prefix -> JSON member for lists
_LISTS = {
    "AttributeName": "AttributeNames",
    "MessageAttributeName": "MessageAttributeNames",
    "MessageSystemAttributeName": "MessageSystemAttributeNames",
    "TagKey": "TagKeys",
    "AWSAccountId": "AWSAccountIds",
    "ActionName": "Actions",
    "StringListValue": "StringListValues",
    "BinaryListValue": "BinaryListValues",
    "SendMessageBatchRequestEntry": "Entries",
    "DeleteMessageBatchRequestEntry": "Entries",
    "ChangeMessageVisibilityBatchRequestEntry": "Entries",
}


async def handle(ctx: Ctx, request: Request, operations: Mapping[str, Operation]) -> Response:
    """Answer one query-protocol request; errors are answered here too, in XML."""
    request_id = new_request_id()
    try:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        form = {**request.query, **form}
        action = form.pop("Action", "")
        operation = operations.get(action)
        if operation is None:
            raise errors.SqsError("InvalidAction", f"The action {action or '(none)'} is not supported by lambdalite.")
        params = _convert(_nest(form), action)
        result = await operation(ctx, params)
        return Response(200, _document(action, result, request_id).encode(), [("x-amzn-RequestId", request_id)], _XML)
    except AwsError as err:
        return error_response(err, request_id)
    except Exception:
        log.exception("internal error in SQS query request")
        return error_response(AwsError(500, "InternalFailure", "An internal error occurred.", type_="Receiver"), request_id)


def _nest(form: dict[str, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in form.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {"": child}
            node = child
        node[parts[-1]] = value
    return root


def _ordered(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return []
    return [node[k] for k in sorted((k for k in node if k.isdigit()), key=int)]


def _convert(node: dict[str, Any], action: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _MAPS:
            member, key_field, value_field = _MAPS[key]
            out[member] = {
                str(item.get(key_field, "")): _value(item.get(value_field))
                for item in _ordered(value)
                if isinstance(item, dict)
            }
        elif key == "Tag":
            member = "tags" if action == "CreateQueue" else "Tags"
            out[member] = {str(i.get("Key", "")): str(i.get("Value", "")) for i in _ordered(value) if isinstance(i, dict)}
        elif key in _LISTS:
            out[_LISTS[key]] = [_convert(i, action) if isinstance(i, dict) else i for i in _ordered(value)]
        elif isinstance(value, dict):
            out[key] = _convert(value, action)
        else:
            out[key] = value
    return out


def _value(node: Any) -> Any:
    return _convert(node, "") if isinstance(node, dict) else node


# ---- XML ---------------------------------------------------------------------------------------
_FLAT_LISTS = {
    "QueueUrls": "QueueUrl",
    "queueUrls": "QueueUrl",
    "Messages": "Message",
    "Failed": "BatchResultErrorEntry",
}


def _document(action: str, result: dict[str, Any], request_id: str) -> str:
    body = _xml(result, action)
    return (
        f'<?xml version="1.0"?><{action}Response xmlns="{_XMLNS}"><{action}Result>{body}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    )


def _xml(data: Mapping[str, Any], action: str) -> str:
    parts: list[str] = []
    for key, value in data.items():
        if key in ("Attributes", "MessageAttributes", "Tags"):
            tag, key_tag = {"Attributes": ("Attribute", "Name"), "MessageAttributes": ("MessageAttribute", "Name"),
                            "Tags": ("Tag", "Key")}[key]
            for k, v in value.items():
                inner = _xml(v, action) if isinstance(v, dict) else _text(v)
                parts.append(f"<{tag}><{key_tag}>{_text(k)}</{key_tag}><Value>{inner}</Value></{tag}>")
        elif key == "Successful":
            for item in value:
                parts.append(f"<{action}ResultEntry>{_xml(item, action)}</{action}ResultEntry>")
        elif key in _FLAT_LISTS:
            tag = _FLAT_LISTS[key]
            for item in value:
                inner = _xml(item, action) if isinstance(item, dict) else _text(item)
                parts.append(f"<{tag}>{inner}</{tag}>")
        else:
            parts.append(f"<{key}>{_text(value)}</{key}>")
    return "".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value), {'"': "&quot;", "\r": "&#13;"})


def error_response(error: AwsError, request_id: str) -> Response:
    code = getattr(error, "query_code", error.code)
    fault = getattr(error, "fault", "Receiver" if error.status >= 500 else "Sender")
    body = (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{_XMLNS}"><Error><Type>{fault}</Type>'
        f"<Code>{_text(code)}</Code><Message>{_text(error.message)}</Message><Detail/></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(error.status, body.encode(), [("x-amzn-RequestId", request_id)], _XML)
