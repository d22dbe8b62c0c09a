"""Helpers shared by the Lambda API e2e tests (no tests here): raw HTTP, error checks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import LambdaliteProcess
from tests.support.zips import ECHO, python_zip

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ACCOUNT = "000000000000"
REGION = "us-east-1"


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def create(client: Any, name: str, source: str = ECHO, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "handler.handler",
        "Code": {"ZipFile": python_zip(source)},
    }
    params.update(extra)
    return client.create_function(**params)  # type: ignore[no-any-return]


def client_error(call: Any, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    """Run call, expect an AWS error; returns botocore's parsed error."""
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    assert response["Error"]["Code"] == code, response
    if message is not None:
        assert response["Error"]["Message"] == message, response
    return response  # type: ignore[no-any-return]


def raw(
    server: LambdaliteProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """An unsigned HTTP request (for what boto3 would refuse to send)."""
    sent = {"Content-Type": "application/json", **(headers or {})}  # urllib would say form-urlencoded (= SQS)
    request = urllib.request.Request(server.endpoint + path, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def raw_error(
    server: LambdaliteProcess, method: str, path: str, body: bytes | None, status: int, code: str
) -> dict[str, Any]:
    got, headers, data = raw(server, method, path, body)
    assert got == status, data
    assert headers["x-amzn-errortype"] == code
    assert headers["content-type"] == "application/json"
    assert headers.get("x-amzn-requestid")
    return json.loads(data)  # type: ignore[no-any-return]


def code_dirs(server: LambdaliteProcess) -> list[str]:
    root = Path(server.data_dir) / "code"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []
