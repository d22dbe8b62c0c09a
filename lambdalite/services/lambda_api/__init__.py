"""Lambda's rest-json API: a table-driven router over precompiled path patterns.

Patterns match `request.raw_path` (still percent-encoded, so `%3A` in ARNs and `%2F` never split a
segment); each captured parameter is percent-decoded once before the handler sees it. Invoke, the hot
path, is tried first on its own.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import orjson

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.lambda_api import (
    account,
    code_signing,
    event_invoke_config,
    event_source_mappings,
    functions,
    invoke,
    invoke_async,
    layers,
    permissions,
    tags,
    versions,
)
from lambdalite.services.lambda_api.operations import operation_of

Handler = Callable[..., Awaitable[Response]]
F = r"(?P<function_name>[^/]+)"

ROUTES: list[tuple[str, str, Any]] = [
    ("POST", r"/2015-03-31/functions/?", functions.create_function),
    ("GET", r"/2015-03-31/functions/?", functions.list_functions),
    ("GET", rf"/2015-03-31/functions/{F}/?", functions.get_function),
    ("DELETE", rf"/2015-03-31/functions/{F}/?", functions.delete_function),
    ("GET", rf"/2015-03-31/functions/{F}/configuration/?", functions.get_function_configuration),
    ("PUT", rf"/2015-03-31/functions/{F}/configuration/?", functions.update_function_configuration),
    ("PUT", rf"/2015-03-31/functions/{F}/code/?", functions.update_function_code),
    ("POST", rf"/2015-03-31/functions/{F}/versions/?", versions.publish_version),
    ("GET", rf"/2015-03-31/functions/{F}/versions/?", versions.list_versions),
    ("POST", rf"/2015-03-31/functions/{F}/aliases/?", versions.create_alias),
    ("GET", rf"/2015-03-31/functions/{F}/aliases/?", versions.list_aliases),
    ("GET", rf"/2015-03-31/functions/{F}/aliases/(?P<name>[^/]+)/?", versions.get_alias),
    ("PUT", rf"/2015-03-31/functions/{F}/aliases/(?P<name>[^/]+)/?", versions.update_alias),
    ("DELETE", rf"/2015-03-31/functions/{F}/aliases/(?P<name>[^/]+)/?", versions.delete_alias),
    ("PUT", rf"/2017-10-31/functions/{F}/concurrency/?", account.put_concurrency),
    ("DELETE", rf"/2017-10-31/functions/{F}/concurrency/?", account.delete_concurrency),
    ("GET", rf"/2019-09-30/functions/{F}/concurrency/?", account.get_concurrency),
    ("GET", r"/2016-08-19/account-settings/?", account.get_account_settings),
    ("GET", rf"/2024-08-31/functions/{F}/recursion-config/?", account.get_recursion),
    ("PUT", rf"/2024-08-31/functions/{F}/recursion-config/?", account.put_recursion),
    ("GET", rf"{functions.CODE_PATH}(?P<sha>[0-9a-f]{{64}})\.zip", functions.get_code_zip),
]

_INVOKE = re.compile(rf"/2015-03-31/functions/{F}/invocations/?")


class Router:
    """Method -> [(compiled pattern, handler)], first match wins."""

    def __init__(self, routes: list[tuple[str, str, Any]]):
        self.by_method: dict[str, list[tuple[re.Pattern[str], Handler]]] = {}
        self.patterns: list[re.Pattern[str]] = []
        for method, pattern, handler in routes:
            compiled = re.compile(pattern)
            self.by_method.setdefault(method, []).append((compiled, handler))
            self.patterns.append(compiled)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for pattern, handler in self.by_method.get(method, ()):
            found = pattern.fullmatch(path)
            if found is not None:
                return handler, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def knows_path(self, path: str) -> bool:
        return any(p.fullmatch(path) for p in self.patterns)


def all_routes() -> list[tuple[str, str, Any]]:
    """Routes of this package: event source mappings' first (their tag routes take mapping ARNs only), then
    ours, async invoke's, event invoke config's, tags', permissions', code signing's and layers'."""
    return [*event_source_mappings.ROUTES, *ROUTES, *invoke_async.ROUTES, *event_invoke_config.ROUTES, *tags.ROUTES,
            *permissions.ROUTES, *code_signing.ROUTES, *layers.ROUTES]


class LambdaService:
    name = "lambda"

    def __init__(self, node: Node):
        self.node = node
        self.router = Router(all_routes())

    async def handle(self, request: Request) -> Response:
        path = request.raw_path
        if request.method == "POST":
            found = _INVOKE.fullmatch(path)
            if found is not None:
                return await invoke.invoke(self.node, request, unquote(found.group("function_name")))
        route = self.router.match(request.method, path)
        if route is None:
            operation = operation_of(request.method, path, request.query)
            if operation is not None:
                raise AwsError(404, "UnknownOperationException", f"{operation} is not supported by lambdalite.")
            if self.router.knows_path(path) or _INVOKE.fullmatch(path):
                raise AwsError(
                    405, "MethodNotAllowedException", f"{request.method} is not allowed on {request.path}"
                )
            raise AwsError(
                404, "UnknownOperationException", f"No operation at {request.method} {request.path}"
            )
        handler, params = route
        response = await handler(self.node, request, **params)
        if not any(name == "x-amzn-RequestId" for name, _ in response.headers):
            response.headers.append(("x-amzn-RequestId", new_request_id()))  # AWS sends one on every answer
        return response

    def error_response(self, error: AwsError, request_id: str) -> Response:
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code), *error.headers]
        return Response(error.status, orjson.dumps(error.rest_json_body()), headers)
