"""Code signing configuration reads: lambdalite runs unsigned code, so no function has a code signing
config and none can be made (the create/put operations stay unsupported, named as such)."""

from __future__ import annotations

from lambdalite.node import Node
from lambdalite.services.http import AwsError, Request, Response, json_response
from lambdalite.services.lambda_api.common import parse_ref, require_function

F = r"(?P<function_name>[^/]+)"


async def get_function_code_signing_config(node: Node, request: Request, function_name: str) -> Response:
    ref = parse_ref(node, request, function_name, allow_qualifier=False)
    await require_function(node, request, ref.name)
    return json_response({"CodeSigningConfigArn": "", "FunctionName": ref.name})


async def list_code_signing_configs(node: Node, request: Request) -> Response:
    return json_response({"CodeSigningConfigs": []})


async def get_code_signing_config(node: Node, request: Request, arn: str) -> Response:
    """There are none: every ARN is one that does not exist (GetCodeSigningConfig and its function list)."""
    raise AwsError(404, "ResourceNotFoundException", f"Code signing configuration {arn} does not exist.")


ROUTES = [
    ("GET", r"/2020-04-22/code-signing-configs/(?P<arn>[^/]+)/?", get_code_signing_config),
    ("GET", r"/2020-04-22/code-signing-configs/(?P<arn>[^/]+)/functions/?", get_code_signing_config),
    ("GET", rf"/2020-06-30/functions/{F}/code-signing-config/?", get_function_code_signing_config),
    ("GET", r"/2020-04-22/code-signing-configs/?", list_code_signing_configs),
]
