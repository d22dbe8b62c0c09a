"""AddPermission / RemovePermission / GetPolicy: a function's resource-based policy, per qualifier.

lambdalite keeps and shows the policy as AWS does (statement shape, Sid conflicts, revision ids); it does
not evaluate it: callers are authorised by their keys (services/auth.py), as a single-account AWS would.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from lambdalite.arn import LATEST
from lambdalite.model import policy_doc
from lambdalite.node import Node
from lambdalite.services.http import (
    AwsError,
    Request,
    Response,
    empty_response,
    json_response,
    validation_error,
)
from lambdalite.services.lambda_api.common import (
    arn_of,
    body_object,
    get_str,
    not_found,
    parse_ref,
    qualifier_of,
    require_function,
)

STATEMENT_ID = r"([a-zA-Z0-9-_.]+)"
ACTION = r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"
PRINCIPAL = r"[^\s]+"
NO_POLICY = "The resource you requested does not exist."


async def _qualifier(node: Node, request: Request, raw: str) -> tuple[str, str]:
    """(function name, qualifier or "") of a policy request; 404 for a missing function or qualifier."""
    ref = parse_ref(node, request, raw)
    qualifier = qualifier_of(ref, request)
    await require_function(node, request, ref.name)
    if qualifier is not None and qualifier != LATEST and await node.store.find_target(ref.name, qualifier) is None:
        raise not_found(node, request, ref.name, qualifier)
    return ref.name, "" if qualifier in (None, LATEST) else qualifier


def _pattern(value: str, member: str, pattern: str, most: int) -> str:
    if not re.fullmatch(pattern, value):
        raise validation_error(value, member, f"Member must satisfy regular expression pattern: {pattern}")
    if len(value) > most:
        raise validation_error(value, member, f"Member must have length less than or equal to {most}")
    return value


def _statement(node: Node, request: Request, name: str, qualifier: str, data: dict[str, Any]) -> dict[str, Any]:
    sid = _pattern(get_str(data, "StatementId", required=True) or "", "statementId", STATEMENT_ID, 100)
    action = _pattern(get_str(data, "Action", required=True) or "", "action", ACTION, 2048)
    principal = _pattern(get_str(data, "Principal", required=True) or "", "principal", PRINCIPAL, 2048)
    return policy_doc.statement(
        sid, action, principal, arn_of(node, request, name, qualifier or None),
        source_arn=get_str(data, "SourceArn"), source_account=get_str(data, "SourceAccount"),
        principal_org_id=get_str(data, "PrincipalOrgID"), event_source_token=get_str(data, "EventSourceToken"),
        url_auth_type=get_str(data, "FunctionUrlAuthType"),
    )


async def add_permission(node: Node, request: Request, function_name: str) -> Response:
    name, qualifier = await _qualifier(node, request, function_name)
    data = body_object(request)
    new = _statement(node, request, name, qualifier, data)

    def add(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if policy_doc.find(statements, new["Sid"]) is not None:
            raise AwsError(409, "ResourceConflictException",
                           f"The statement id ({new['Sid']}) provided already exists. Please provide a new "
                           "statement id, or remove the existing statement.")
        return [*statements, new]

    await node.store.change_policy(name, qualifier, add, get_str(data, "RevisionId"))
    return json_response({"Statement": orjson.dumps(new).decode()}, 201)


async def remove_permission(node: Node, request: Request, function_name: str, statement_id: str) -> Response:
    name, qualifier = await _qualifier(node, request, function_name)

    def remove(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if policy_doc.find(statements, statement_id) is None:
            raise AwsError(404, "ResourceNotFoundException",
                           f"Statement {statement_id} is not found in resource policy.")
        return [s for s in statements if s.get("Sid") != statement_id]

    if await node.store.get_policy(name, qualifier) is None:
        raise AwsError(404, "ResourceNotFoundException", NO_POLICY)
    await node.store.change_policy(name, qualifier, remove, request.query.get("RevisionId") or None)
    return empty_response(204)


async def get_policy(node: Node, request: Request, function_name: str) -> Response:
    name, qualifier = await _qualifier(node, request, function_name)
    found = await node.store.get_policy(name, qualifier)
    if found is None:
        raise AwsError(404, "ResourceNotFoundException", NO_POLICY)
    statements, revision = found
    return json_response({"Policy": policy_doc.document(statements), "RevisionId": revision})


async def forget_policies(node: Node, name: str, qualifier: str | None) -> None:
    """DeleteFunction (every qualifier) / deleting a version or alias (its own)."""
    await node.store.delete_policies(name, qualifier)


F = r"(?P<function_name>[^/]+)"
ROUTES = [
    ("POST", rf"/2015-03-31/functions/{F}/policy/?", add_permission),
    ("GET", rf"/2015-03-31/functions/{F}/policy/?", get_policy),
    ("DELETE", rf"/2015-03-31/functions/{F}/policy/(?P<statement_id>[^/]+)/?", remove_permission),
]
