"""Lambda layers: the API (publish, get, by ARN, list, delete, AWS's errors) and layers applied in order
into /opt with AWS's search paths: a Python package from a layer, a Node.js module from a layer, a tool
on PATH from /opt/bin, and a later layer's file replacing an earlier one's."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdalite.runtime.interpreters import find_node
from tests.support.server import LambdaliteProcess, module_client, module_server
from tests.support.zips import ECHO, make_zip, python_zip

server = module_server("layers")
lam = module_client("lambda")
ROLE = "arn:aws:iam::000000000000:role/lambda"
PY_RUNTIME = "python3.11"
KEY_ID, SECRET = "AKIDLAYERS", "layers-secret-key"


def _publish(lam: Any, name: str, files: dict[str, str], **kw: Any) -> dict[str, Any]:
    modes = {path: 0o755 for path in files if path.startswith("bin/")}
    out: dict[str, Any] = lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files, modes)}, **kw)
    return out


def _invoke(lam: Any, name: str, payload: dict[str, Any] | None = None) -> Any:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), LogType="Tail")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, (body, base64.b64decode(out.get("LogResult", "")).decode())
    return body


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_layer_api_shapes_and_errors(lam: Any) -> None:
    first = _publish(lam, "api-layer", {"python/a.py": "A = 1\n"}, Description="first",
                     CompatibleRuntimes=[PY_RUNTIME], LicenseInfo="MIT", CompatibleArchitectures=["x86_64"])
    assert first["LayerArn"] == "arn:aws:lambda:us-east-1:000000000000:layer:api-layer"
    assert first["LayerVersionArn"] == first["LayerArn"] + ":1" and first["Version"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", first["CreatedDate"])
    assert (first["Description"], first["CompatibleRuntimes"], first["LicenseInfo"]) == ("first", [PY_RUNTIME], "MIT")
    assert first["Content"]["CodeSize"] > 0 and first["Content"]["CodeSha256"]
    with urllib.request.urlopen(first["Content"]["Location"]) as response:
        assert response.read()[:2] == b"PK"
    second = _publish(lam, "api-layer", {"python/a.py": "A = 2\n"})
    assert second["Version"] == 2
    got = lam.get_layer_version(LayerName="api-layer", VersionNumber=1)
    assert got["LayerVersionArn"] == first["LayerVersionArn"] and got["Description"] == "first"
    assert lam.get_layer_version_by_arn(Arn=second["LayerVersionArn"])["Version"] == 2
    versions = lam.list_layer_versions(LayerName="api-layer")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="api-layer",
                                                          CompatibleRuntime=PY_RUNTIME)["LayerVersions"]] == [1]
    layers = {layer["LayerName"]: layer for layer in lam.list_layers()["Layers"]}
    assert layers["api-layer"]["LatestMatchingVersion"]["Version"] == 2
    lam.delete_layer_version(LayerName="api-layer", VersionNumber=2)
    lam.delete_layer_version(LayerName="api-layer", VersionNumber=2)  # idempotent, as on AWS
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName="api-layer", VersionNumber=2)
    assert _error(exc) == ("ResourceNotFoundException", "The resource you requested does not exist.")
    assert _publish(lam, "api-layer", {"python/a.py": "A = 3\n"})["Version"] == 3  # numbers are never reused


def test_python_function_imports_a_package_from_its_layer(lam: Any) -> None:
    pkg = _publish(lam, "py-pkg", {"python/lib/python3.11/site-packages/greeting/__init__.py":
                                   "def hello(name):\n    return 'hello ' + name\n"})
    tool = _publish(lam, "py-tool", {"python/shadow.py": "WHO = 'first'\n", "bin/layertool": "#!/bin/sh\necho tool-ok\n"})
    over = _publish(lam, "py-over", {"python/shadow.py": "WHO = 'second'\n"})
    code = """
import os, subprocess, sys
import greeting, shadow

def handler(event, context):
    return {"greeting": greeting.hello("layers"), "shadow": shadow.WHO,
            "tool": subprocess.run(["layertool"], capture_output=True, text=True).stdout.strip(),
            "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else None}
"""
    lam.create_function(FunctionName="py-layered", Runtime=PY_RUNTIME, Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": python_zip(code)},
                        Layers=[pkg["LayerVersionArn"], tool["LayerVersionArn"], over["LayerVersionArn"]])
    config = lam.get_function_configuration(FunctionName="py-layered")
    assert [layer["Arn"] for layer in config["Layers"]] == [pkg["LayerVersionArn"], tool["LayerVersionArn"],
                                                             over["LayerVersionArn"]]
    assert all(layer["CodeSize"] > 0 for layer in config["Layers"])
    out = _invoke(lam, "py-layered")
    assert out["greeting"] == "hello layers"
    assert out["shadow"] == "second"  # the later layer's file wins
    assert out["tool"] == "tool-ok"

    lam.update_function_configuration(FunctionName="py-layered", Layers=[pkg["LayerVersionArn"]])
    lam.get_waiter("function_updated_v2").wait(FunctionName="py-layered")
    with pytest.raises(ClientError):  # nothing silently kept: shadow came from the removed layers
        lam.update_function_configuration(FunctionName="py-layered", Layers=[pkg["LayerVersionArn"] + "0"])
    failed = lam.invoke(FunctionName="py-layered", Payload=b"{}")
    assert failed.get("FunctionError") == "Unhandled"
    assert "shadow" in failed["Payload"].read().decode()
    lam.update_function_configuration(FunctionName="py-layered", Layers=[])
    assert "Layers" not in lam.get_function_configuration(FunctionName="py-layered")


@pytest.mark.skipif(find_node(20) is None, reason="node 20 is not installed on this host")
def test_node_function_requires_a_module_from_its_layer(lam: Any) -> None:
    layer = _publish(lam, "node-mod", {"nodejs/node_modules/shout/index.js":
                                       "module.exports = (s) => s.toUpperCase() + '!';\n"})
    code = "const shout = require('shout');\nexports.handler = async (event) => ({ said: shout(event.word) });\n"
    lam.create_function(FunctionName="node-layered", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": make_zip({"index.js": code})}, Layers=[layer["LayerVersionArn"]])
    assert _invoke(lam, "node-layered", {"word": "layers"}) == {"said": "LAYERS!"}


RUNTIME_LAYER_BOOTSTRAP = """#!/bin/sh
set -euo pipefail
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE="{\\"from\\": \\"$0\\", \\"handler\\": \\"$(cat $LAMBDA_TASK_ROOT/$_HANDLER)\\"}"
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE" > /dev/null
done
"""


def test_a_custom_runtime_from_a_layer_bootstraps_provided_functions(lam: Any) -> None:
    runtime = lam.publish_layer_version(LayerName="shell-runtime", Content={
        "ZipFile": make_zip({"bootstrap": RUNTIME_LAYER_BOOTSTRAP}, modes={"bootstrap": 0o755})})
    lam.create_function(FunctionName="on-layer-runtime", Runtime="provided.al2023", Role=ROLE, Handler="script.txt",
                        Code={"ZipFile": make_zip({"script.txt": "the code"})}, Layers=[runtime["LayerVersionArn"]])
    out = _invoke(lam, "on-layer-runtime")
    assert out["handler"] == "the code" and out["from"].endswith("/bootstrap")


def test_a_deleted_layer_version_keeps_running_in_functions_that_use_it(lam: Any) -> None:
    layer = _publish(lam, "short-lived", {"python/kept.py": "WHERE = 'deleted but kept'\n"})
    code = "import kept\n\ndef handler(event, context):\n    return {'where': kept.WHERE}\n"
    lam.create_function(FunctionName="uses-deleted", Runtime=PY_RUNTIME, Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": python_zip(code)}, Layers=[layer["LayerVersionArn"]])
    lam.delete_layer_version(LayerName="short-lived", VersionNumber=1)
    assert lam.list_layer_versions(LayerName="short-lived")["LayerVersions"] == []
    lam.update_function_configuration(FunctionName="uses-deleted", Timeout=5)  # a new environment starts
    assert _invoke(lam, "uses-deleted") == {"where": "deleted but kept"}
    with pytest.raises(ClientError) as exc:  # but no function can start using it
        lam.update_function_configuration(FunctionName="uses-deleted", Layers=[layer["LayerVersionArn"]])
    assert _error(exc)[0] == "InvalidParameterValueException"


def test_layer_limits_and_unknown_versions(lam: Any) -> None:
    arns = [_publish(lam, f"limit-{i}", {f"python/m{i}.py": f"N = {i}\n"})["LayerVersionArn"] for i in range(6)]
    kw = {"Runtime": PY_RUNTIME, "Role": ROLE, "Handler": "handler.handler", "Code": {"ZipFile": python_zip(ECHO)}}
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName="too-many", Layers=arns, **kw)
    assert _error(exc) == ("InvalidParameterValueException", "Cannot reference more than 5 layers.")
    missing = arns[0].rsplit(":", 1)[0] + ":99"
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName="unknown-layer", Layers=[missing], **kw)
    assert _error(exc) == ("InvalidParameterValueException", f"Layer version {missing} does not exist.")
    lam.create_function(FunctionName="five-layers", Layers=arns[:5], **kw)
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName="five-layers", Layers=arns)
    assert _error(exc)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="too-many")


def test_content_locations_download_with_authentication_on(tmp_path: Path) -> None:
    """Presigned Code.Location and Content.Location download with authentication on (and functions kept to
    the data plane): the keys that sign them are lambdalite's own, refused for anything else."""
    proc = LambdaliteProcess(tmp_path / "data", env={"LAMBDALITE_CREDENTIALS": f"{KEY_ID}:{SECRET}"}).start()
    try:
        lam = boto3.client("lambda", endpoint_url=proc.endpoint, aws_access_key_id=KEY_ID,
                           aws_secret_access_key=SECRET, region_name="us-east-1")
        lam.create_function(FunctionName="signed", Runtime=PY_RUNTIME, Role=ROLE, Handler="handler.handler",
                            Code={"ZipFile": python_zip(ECHO)})
        layer = _publish(lam, "signed-layer", {"python/s.py": "S = 1\n"})
        for location in (lam.get_function(FunctionName="signed")["Code"]["Location"], layer["Content"]["Location"]):
            with urllib.request.urlopen(location) as response:
                assert response.read()[:2] == b"PK"
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(location.split("?")[0])
            assert refused.value.code == 403
    finally:
        proc.kill()
