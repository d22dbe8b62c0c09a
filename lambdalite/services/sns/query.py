"""SNS's query protocol: the form (`Action=X&Version=2010-03-31`, flattened maps and lists) into nested
params, and XML answers in SNS's namespace, errors in its `ErrorResponse` envelope (contract 1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from lambdalite.services.http import AwsError, Response

XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
_XML = "text/xml"
Params = dict[str, Any]


def parse_form(body: bytes, query: Mapping[str, str]) -> tuple[str, Params]:
    """(action, params): `X.entry.N.key|value` and `X.entry.N.Name|Value` become maps, `X.member.N` lists."""
    form = {**query, **dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))}
    action = form.pop("Action", "")
    form.pop("Version", None)
    root: dict[str, Any] = {}
    for key, value in form.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return action, _convert(root)


def _ordered(node: dict[str, Any]) -> list[Any]:
    return [node[k] for k in sorted((k for k in node if k.isdigit()), key=int)]


def _convert(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        return [_convert(item) for item in _ordered(node["member"])]
    if set(node) == {"entry"} and isinstance(node["entry"], dict):
        out: dict[str, Any] = {}
        for item in _ordered(node["entry"]):
            if isinstance(item, dict):
                key = item.get("key", item.get("Name", ""))
                out[str(key)] = _convert(item.get("value", item.get("Value")))
        return out
    return {key: _convert(value) for key, value in node.items()}


# ---- XML ---------------------------------------------------------------------------------------------


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value), {'"': "&quot;", "\r": "&#13;"})


def el(tag: str, value: Any) -> str:
    return f"<{tag}>{text(value)}</{tag}>"


def members(tag: str, items: Iterable[str]) -> str:
    """`<Tag><member>…</member>…</Tag>` around already-rendered member bodies."""
    return f"<{tag}>" + "".join(f"<member>{item}</member>" for item in items) + f"</{tag}>"


def entries(tag: str, values: Mapping[str, str]) -> str:
    """An SNS map: `<Tag><entry><key/><value/></entry>…</Tag>`."""
    return f"<{tag}>" + "".join(f"<entry>{el('key', k)}{el('value', v)}</entry>" for k, v in values.items()) + f"</{tag}>"


def document(action: str, result: str | None, request_id: str) -> Response:
    inner = f"<{action}Result>{result}</{action}Result>" if result is not None else ""
    body = (f'<?xml version="1.0"?>\n<{action}Response xmlns="{XMLNS}">{inner}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
    return Response(200, body.encode(), [("x-amzn-RequestId", request_id)], _XML)


def error_response(error: AwsError, request_id: str) -> Response:
    fault = "Receiver" if error.status >= 500 else "Sender"
    body = (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{XMLNS}"><Error><Type>{fault}</Type>'
            f"{el('Code', error.code)}{el('Message', error.message)}</Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(error.status, body.encode(), [("x-amzn-RequestId", request_id), *error.headers], _XML)
