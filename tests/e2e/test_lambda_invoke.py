"""Sync Invoke (RequestResponse, DryRun) against a real server and real function processes (section 1)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.e2e.test_lambda_helpers import ROLE, arn, client_error, create, raw
from tests.support.server import LambdaliteProcess, module_client, module_server
from tests.support.zips import make_zip

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

INFO = """
import os, sys
def handler(event, context):
    print("hello from the handler")
    custom = context.client_context.custom if context.client_context else None
    return {"event": event, "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "version": context.function_version, "env": os.environ.get("KK"), "custom": custom,
            "ric": "awslambdaric" in sys.modules}
"""

FAILS = """
def handler(event, context):
    raise ValueError("boom")
"""

BOOTSTRAP = """#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({"custom": True, "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"""


server = module_server("lambda")
lam = module_client("lambda")


@pytest.fixture(scope="module")
def info_fn(lam: Any) -> str:
    create(lam, "inv-info", source=INFO, Environment={"Variables": {"KK": "one"}})
    return "inv-info"


def _invoke(lam: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(**kwargs)
    return response, json.loads(response["Payload"].read())


def test_request_response(lam: Any, info_fn: str) -> None:
    response, body = _invoke(lam, FunctionName=info_fn, Payload=b'{"a": 1}')
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body["event"] == {"a": 1}
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["arn"] == arn(info_fn)
    assert body["env"] == "one"


def test_empty_payload_is_empty_object(lam: Any, info_fn: str) -> None:
    _, body = _invoke(lam, FunctionName=info_fn)
    assert body["event"] == {}


def test_tail_log_and_client_context(lam: Any, info_fn: str) -> None:
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    response, body = _invoke(lam, FunctionName=info_fn, LogType="Tail", ClientContext=context)
    log = base64.b64decode(response["LogResult"]).decode()
    assert "hello from the handler" in log
    assert body["custom"] == {"k": "v"}


def test_function_error(lam: Any, server: LambdaliteProcess) -> None:
    create(lam, "inv-fails", source=FAILS)
    response, body = _invoke(lam, FunctionName="inv-fails")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    _, _, exposition = raw(server, "GET", "/metrics")
    text = exposition.decode()
    assert 'lambda_Invocations_total{function_name="inv-fails"} 1.0' in text
    assert 'lambda_Errors_total{function_name="inv-fails"} 1.0' in text
    assert 'lambda_Duration_milliseconds_count{function_name="inv-fails"} 1.0' in text


def test_versions_aliases_and_arn_forms(lam: Any) -> None:
    create(lam, "inv-ver", source="def handler(e, c):\n    return 'v1'\n", Publish=True)
    lam.update_function_code(
        FunctionName="inv-ver", ZipFile=make_zip({"handler.py": "def handler(e, c):\n    return 'v2'\n"})
    )
    lam.create_alias(FunctionName="inv-ver", Name="stable", FunctionVersion="1")
    cases = [
        ({"FunctionName": "inv-ver"}, "v2", "$LATEST"),
        ({"FunctionName": "inv-ver", "Qualifier": "1"}, "v1", "1"),
        ({"FunctionName": "inv-ver:stable"}, "v1", "1"),
        ({"FunctionName": arn("inv-ver", "stable")}, "v1", "1"),
        ({"FunctionName": "000000000000:function:inv-ver:$LATEST"}, "v2", "$LATEST"),
        ({"FunctionName": arn("inv-ver")}, "v2", "$LATEST"),
    ]
    for kwargs, result, version in cases:
        response, body = _invoke(lam, **kwargs)
        assert (body, response["ExecutedVersion"]) == (result, version), kwargs


def test_new_configuration_gets_new_environment(lam: Any) -> None:
    create(lam, "inv-env", source=INFO, Environment={"Variables": {"KK": "before"}})
    assert _invoke(lam, FunctionName="inv-env")[1]["env"] == "before"
    lam.update_function_configuration(FunctionName="inv-env", Environment={"Variables": {"KK": "after"}})
    assert _invoke(lam, FunctionName="inv-env")[1]["env"] == "after"


def test_provided_runtime_bootstrap_is_executable(lam: Any) -> None:
    zipped = make_zip({"bootstrap": BOOTSTRAP}, modes={"bootstrap": 0o755})
    lam.create_function(
        FunctionName="inv-custom", Runtime="provided.al2023", Role=ROLE, Handler="x", Code={"ZipFile": zipped}
    )
    _, body = _invoke(lam, FunctionName="inv-custom", Payload=b'{"x": 1}')
    assert body == {"custom": True, "event": {"x": 1}}


def test_awslambdaric_selected_per_function(lam: Any) -> None:
    pytest.importorskip("awslambdaric")
    create(
        lam, "inv-ric", source=INFO, Environment={"Variables": {"LAMBDALITE_RUNTIME_CLIENT": "awslambdaric"}}
    )
    context = base64.b64encode(json.dumps({"custom": {"k": "ric"}}).encode()).decode()
    _, body = _invoke(lam, FunctionName="inv-ric", ClientContext=context)
    assert body["ric"] is True
    assert body["custom"] == {"k": "ric"}


def test_dry_run(lam: Any, info_fn: str) -> None:
    response = lam.invoke(FunctionName=info_fn, InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_missing_function(lam: Any) -> None:
    client_error(
        lambda: lam.invoke(FunctionName="inv-nope"),
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn('inv-nope', '$LATEST')}",
    )
    client_error(
        lambda: lam.invoke(FunctionName="inv-nope", Qualifier="live"),
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn('inv-nope', 'live')}",
    )


def test_bad_payloads(lam: Any, server: LambdaliteProcess, info_fn: str) -> None:
    err = client_error(
        lambda: lam.invoke(FunctionName=info_fn, Payload=b"{not json"), 400, "InvalidRequestContentException"
    )
    assert err["Error"]["Message"].startswith("Could not parse request body into json: ")
    client_error(
        lambda: lam.invoke(FunctionName=info_fn, Payload=b'"' + b"x" * 6_291_456 + b'"'),
        413,
        "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )
    status, headers, data = raw(
        server, "POST", f"/2015-03-31/functions/{info_fn}/invocations", b"\xff\xfe", {"Content-Type": ""}
    )
    assert status == 400 and headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert set(json.loads(data)) == {"Type", "message"}


def test_encoded_names_over_raw_http(server: LambdaliteProcess, info_fn: str) -> None:
    encoded = f"arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3A{info_fn}%3A%24LATEST"
    status, headers, data = raw(server, "POST", f"/2015-03-31/functions/{encoded}/invocations", b"{}")
    assert status == 200, data
    assert headers["x-amz-executed-version"] == "$LATEST"


def test_zero_reserved_concurrency_throttles(lam: Any, server: LambdaliteProcess) -> None:
    create(lam, "inv-zero")
    lam.put_function_concurrency(FunctionName="inv-zero", ReservedConcurrentExecutions=0)
    status, headers, data = raw(server, "POST", "/2015-03-31/functions/inv-zero/invocations", b"{}")
    assert status == 429
    assert headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert headers["retry-after"]
    assert json.loads(data) == {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
    _, _, exposition = raw(server, "GET", "/metrics")
    assert 'lambda_Throttles_total{function_name="inv-zero"} 1.0' in exposition.decode()


def test_event_invocations_are_routed_to_async_accept(lam: Any, info_fn: str) -> None:
    response = lam.invoke(FunctionName=info_fn, InvocationType="Event", Payload=b'{"queued": true}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""


def test_unknown_invocation_type(server: LambdaliteProcess, info_fn: str) -> None:
    status, headers, data = raw(
        server,
        "POST",
        f"/2015-03-31/functions/{info_fn}/invocations",
        b"{}",
        {"X-Amz-Invocation-Type": "Later"},
    )
    assert status == 400 and headers["x-amzn-errortype"] == "ValidationException"
    assert (
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]" in json.loads(data)["Message"]
    )
