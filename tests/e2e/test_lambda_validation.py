"""Bad CreateFunction / UpdateFunctionConfiguration input gets AWS's 400s, never a 500 (issue 14, finding 8):
a zip naming one path both as a file and as a folder, and wrong-typed Tags, Layers, VpcConfig.

boto3 refuses wrong types before sending, so those requests go out as raw JSON over http.client (what
any other client, or a hand-made request, can send); the zip cases and the valid shapes use boto3.
"""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_lambda_helpers import ROLE, create
from tests.support.server import LambdaliteProcess, module_client, module_server
from tests.support.zips import ECHO, make_zip, python_zip

srv = module_server("lambda-validation")
lam = module_client("lambda", server="srv")

LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:my-layer:3"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def send(server: LambdaliteProcess, method: str, path: str, body: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """(status, x-amzn-ErrorType, parsed body) of one raw JSON request."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheader("x-amzn-ErrorType", ""), json.loads(data) if data else {}
    finally:
        conn.close()


def create_body(**extra: Any) -> dict[str, Any]:
    return {"FunctionName": unique("v"), "Runtime": "python3.12", "Role": ROLE, "Handler": "handler.handler",
            "Code": {"ZipFile": base64.b64encode(python_zip(ECHO)).decode()}, **extra}


# ---- zips with a path that is both a file and a folder --------------------------------------------


@pytest.mark.parametrize("files", [
    {"handler.py": ECHO, "a": "file", "a/b": "under a"},
    {"handler.py": ECHO, "a/b": "under a", "a": "file"},
    {"handler.py": ECHO, "a": "file", "a/": ""},
    {"handler.py": ECHO, "x/a": "file", "x/a/b/c": "deeper"},
])
def test_zip_with_a_file_and_a_folder_of_one_name_is_a_400(lam: Any, files: dict[str, str]) -> None:
    name = unique("clash")
    with pytest.raises(ClientError) as info:
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                            Code={"ZipFile": make_zip(files)})
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"].startswith("Could not unzip uploaded file.")
    assert "is both a file and a folder" in response["Error"]["Message"]
    create(lam, name)  # nothing of the refused upload is in the way
    with pytest.raises(ClientError) as info:
        lam.update_function_code(FunctionName=name, ZipFile=make_zip(files))
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"


# ---- wrong-typed Tags, Layers, VpcConfig ----------------------------------------------------------


@pytest.mark.parametrize("extra", [
    {"Tags": "team=a"},
    {"Tags": ["team", "a"]},
    {"Tags": {"team": 1}},
    {"Layers": LAYER},
    {"Layers": [1]},
    {"Layers": {"arn": LAYER}},
    {"VpcConfig": "subnet-1"},
    {"VpcConfig": ["subnet-1"]},
    {"VpcConfig": {"SubnetIds": "subnet-1"}},
    {"VpcConfig": {"SecurityGroupIds": [5]}},
    {"VpcConfig": {"Ipv6AllowedForDualStack": "yes"}},
])
def test_create_function_refuses_wrong_types(srv: LambdaliteProcess, extra: dict[str, Any]) -> None:
    status, code, body = send(srv, "POST", "/2015-03-31/functions", create_body(**extra))
    assert (status, code) == (400, "InvalidRequestContentException"), body
    assert body["message"].startswith("Could not parse request body into json:")


@pytest.mark.parametrize(("extra", "member"), [
    ({"Layers": ["not-a-layer-arn"]}, "layers"),
    ({"Tags": {"": "empty key"}}, "tags"),
    ({"Tags": {"k": "v" * 257}}, "tags.k"),
    ({"VpcConfig": {"SubnetIds": [f"subnet-{i}" for i in range(17)]}}, "vpcConfig.subnetIds"),
    ({"VpcConfig": {"SecurityGroupIds": [f"sg-{i}" for i in range(6)]}}, "vpcConfig.securityGroupIds"),
])
def test_create_function_refuses_values_out_of_the_model(srv: LambdaliteProcess, extra: dict[str, Any],
                                                         member: str) -> None:
    status, code, body = send(srv, "POST", "/2015-03-31/functions", create_body(**extra))
    assert (status, code) == (400, "ValidationException"), body
    assert f"at '{member}' failed to satisfy constraint" in (body.get("message") or body["Message"]), body


def test_update_function_configuration_refuses_wrong_types(srv: LambdaliteProcess, lam: Any) -> None:
    name = unique("upd")
    published = lam.publish_layer_version(LayerName="my-layer", Content={"ZipFile": make_zip({"python/m.py": ""})})
    create(lam, name, Tags={"team": "a", "empty": ""}, Layers=[published["LayerVersionArn"]],  # well-typed ones pass
           VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"], "Ipv6AllowedForDualStack": False})
    lam.update_function_configuration(FunctionName=name, Layers=[], VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})
    path = f"/2015-03-31/functions/{name}/configuration"
    for extra in ({"Layers": LAYER}, {"VpcConfig": "subnet-1"}, {"VpcConfig": {"SubnetIds": [1]}}):
        status, code, body = send(srv, "PUT", path, extra)
        assert (status, code) == (400, "InvalidRequestContentException"), (extra, body)
    assert lam.get_function_configuration(FunctionName=name)["State"] == "Active"
