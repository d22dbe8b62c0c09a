"""What a function may ask of lambdalite's API: the data plane only, unless configured otherwise.

The sandbox keeps a function away from the data folder and the server's processes, but the network is
shared on purpose (a function's SDK calls lambdalite as it would call AWS). Without this guard any
function could read another's configuration (its environment: secrets), download and replace its code.
AWS decides with the function role's IAM policy; lambdalite has no IAM, so it grants every function the
data plane (invoke functions, send and receive SQS messages, put events, publish to SNS topics) and refuses the control plane
with AWS's AccessDenied. `LAMBDALITE_FUNCTION_API=all` restores full access (functions that deploy).

A request is a function's when it arrives on a connection from a sandboxed environment's uid (the
HTTP server asks the kernel once per connection), or is signed with keys minted for a function's role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.lambda_api.operations import operation_of
from lambdalite.services.sqs import query as sqs_query
from lambdalite.services.sqs.errors import SqsError

if TYPE_CHECKING:
    from lambdalite.services.app import Service

DATA_PLANE = {
    "lambda": frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"}),
    "sqs": frozenset({"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
                      "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueUrl",
                      "GetQueueAttributes"}),
    "events": frozenset({"PutEvents"}),
    "sns": frozenset({"Publish", "PublishBatch"}),
    "logs": frozenset(),  # reading logs is reading other functions' output: not the data plane
}
_PREFIX = {"lambda": "lambda", "sqs": "sqs", "events": "events", "sns": "SNS", "logs": "logs"}


def operation(request: Request, service: str) -> str:
    """The operation a request asks for ("" when it names none)."""
    target = request.headers.get("x-amz-target", "")
    if target:
        return target.partition(".")[2]
    if service == "lambda":
        return operation_of(request.method, request.raw_path, request.query) or ""
    if service in ("sqs", "sns"):  # the query protocol: Action in the query string or the form body
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"))) if request.method == "POST" else {}
        return request.query.get("Action") or form.get("Action", "")
    return ""


DOWNLOAD_ROLE = "role/lambdalite-code-download"  # credentials.code_location_query's presigning key
DOWNLOAD_PATHS = ("/_lambdalite/code/", "/_lambdalite/layers/")


def refuse(request: Request, service: Service) -> Response | None:
    """AccessDenied, in the service's envelope, for a function asking for more than the data plane."""
    if request.function_caller is None or service.name not in DATA_PLANE:
        return None
    if (request.method == "GET" and request.function_caller.endswith(":" + DOWNLOAD_ROLE)
            and request.path.startswith(DOWNLOAD_PATHS)):
        return None  # a presigned Code.Location / Content.Location: the signature covers that path only
    name = operation(request, service.name)
    if name in DATA_PLANE[service.name]:
        return None
    who = request.function_caller if request.function_caller.startswith("arn:") else "a function"
    message = (f"User: {who} is not authorized to perform: {_PREFIX[service.name]}:{name or 'this operation'} "
               "(lambdalite gives functions the data plane only; LAMBDALITE_FUNCTION_API=all allows more)")
    if service.name == "sqs":
        error: AwsError = SqsError("AccessDenied", message, status=403)
    elif service.name in ("events", "logs"):
        error = AwsError(400, "AccessDeniedException", message, type_=None)
    elif service.name == "sns":
        error = AwsError(403, "AuthorizationError", message, type_=None)
    else:
        error = AwsError(403, "AccessDeniedException", message, type_="User")
    if service.name == "sqs" and not request.headers.get("x-amz-target"):
        return sqs_query.error_response(error, new_request_id())
    return service.error_response(error, new_request_id())
