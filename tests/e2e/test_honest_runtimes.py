"""A function sees its runtime's interpreter, its own code and boto3: not lambdalite's virtualenv nor the host's
site-packages; runtimes the host cannot run are refused; `#!/bin/sh` bootstraps run as on Amazon Linux."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdalite.runtime import sandbox
from lambdalite.runtime.interpreters import find_python, host_runtimes
from tests.e2e.test_lambda_helpers import client_error
from tests.support.server import LambdaliteProcess, module_client, module_server
from tests.support.zips import make_zip, python_zip

ROLE = "arn:aws:iam::000000000000:role/lambda"
server = module_server("honest-runtimes")
lam = module_client("lambda")
sqs = module_client("sqs")

PROBE = """
import importlib, sys

def handler(event, context):
    found = {}
    for name in event["modules"]:
        try:
            importlib.import_module(name)
            found[name] = "imported"
        except ImportError as e:
            found[name] = type(e).__name__ + ": " + str(e)
    return {"found": found, "path": sys.path, "executable": sys.executable,
            "version": list(sys.version_info[:2]), "exit_builtin": callable(exit)}
"""
LEAKS = ["lambdalite", "pytest", "mypy", "redis", "orjson", "httptools"]
SENDER = """
import json, sys
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"python": list(sys.version_info[:2])}))
    return {"boto3": boto3.__file__, "site": [p for p in sys.path if "site-packages" in p]}
"""


def _create(lam: Any, name: str, runtime: str, zipped: bytes, **extra: Any) -> None:
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=extra.pop("Handler", "handler.handler"),
                        Code={"ZipFile": zipped}, Timeout=30, **extra)


def _invoke(lam: Any, name: str, payload: Any) -> tuple[dict[str, Any], Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload))
    return out, json.loads(out["Payload"].read())


def _installed_pythons() -> list[str]:
    return [f"python3.{minor}" for minor in range(9, 15) if find_python(minor) is not None]


@pytest.mark.parametrize("runtime", _installed_pythons())
def test_a_function_cannot_import_lambdalite_or_the_hosts_packages(lam: Any, runtime: str) -> None:
    name = "probe-" + runtime.replace(".", "")
    _create(lam, name, runtime, python_zip(PROBE))
    out, body = _invoke(lam, name, {"modules": LEAKS})
    assert "FunctionError" not in out, body
    assert body["found"] == {m: f"ModuleNotFoundError: No module named '{m}'" for m in LEAKS}
    assert body["version"] == [3, int(runtime.split(".")[1])] and body["exit_builtin"] is True
    assert body["executable"] == find_python(int(runtime.split(".")[1])) != sys.executable
    assert not [p for p in body["path"] if "site-packages" in p or "dist-packages" in p], body["path"]


def test_importing_lambdalite_at_init_fails_as_on_aws(lam: Any) -> None:
    _create(lam, "imports-lambdalite", "python3.11", python_zip("import lambdalite\ndef handler(e, c):\n    return 1\n"))
    out, body = _invoke(lam, "imports-lambdalite", {})
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'handler': No module named 'lambdalite'"


@pytest.mark.parametrize("runtime", [r for r in _installed_pythons() if r != "python3.9"])
def test_boto3_works_and_reaches_lambdalite(lam: Any, sqs: Any, runtime: str) -> None:
    queue = "from-" + runtime.replace(".", "")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    name = "sender-" + runtime.replace(".", "")
    _create(lam, name, runtime, python_zip(SENDER))
    out, body = _invoke(lam, name, {"queue": queue})
    assert "FunctionError" not in out, body
    assert body["site"] == [] and "site-packages" not in body["boto3"]  # the stack linked in the data folder
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"python": [3, int(runtime.split(".")[1])]}]


@pytest.fixture(scope="module")
def python39_boto3(server: LambdaliteProcess) -> Iterator[Path]:
    """boto3 for python3.9 where an operator puts it: <data>/runtime-packages/python3.9 (pip, network)."""
    python = find_python(9)
    if python is None:
        pytest.skip("python3.9 is not installed here")
    target = server.data_dir / "runtime-packages" / "python3.9"
    result = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             "--target", str(target), "boto3"], capture_output=True, text=True, timeout=300,
                            check=False)
    if result.returncode != 0:
        pytest.skip(f"pip install boto3 for python3.9 failed: {result.stderr.strip()[-500:]}")
    yield target


def test_python39_gets_no_incompatible_boto3_but_an_operators_copy(lam: Any, sqs: Any, server: LambdaliteProcess,
                                                                   python39_boto3: Path) -> None:
    """The server's boto3 requires Python >= 3.10: it is never offered to 3.9 (it crashed there); a copy the
    operator installed for 3.9 is. Created after the copy exists, so this server picks it."""
    url = sqs.create_queue(QueueName="from-python39")["QueueUrl"]
    _create(lam, "sender-python39", "python3.9", python_zip(SENDER))
    out, body = _invoke(lam, "sender-python39", {"queue": "from-python39"})
    assert "FunctionError" not in out, body
    # the operator's folder, as the function sees it: in place, or bound into the sandbox (runtime/sandbox.py)
    seen_at = f"{sandbox.VENDOR_DIR}/" if sandbox.active("auto") is not None else str(python39_boto3)
    assert body["boto3"].startswith(seen_at) and body["site"] == []
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"python": [3, 9]}]


@pytest.mark.parametrize("runtime", ["python3.14", "nodejs18.x", "nodejs22.x"])
def test_a_runtime_this_host_cannot_run_is_refused(lam: Any, runtime: str) -> None:
    if runtime in host_runtimes():
        pytest.skip(f"{runtime} is installed here")
    available = host_runtimes()
    expected = (f"The runtime parameter of {runtime} is not supported by this lambdalite host; "
                f"it can run: {', '.join(available)}")
    err = client_error(lambda: _create(lam, "refused", runtime, python_zip("")), 400,
                       "InvalidParameterValueException", expected)
    assert "python3.11" in err["Error"]["Message"] and "provided.al2023" in err["Error"]["Message"]
    client_error(lambda: lam.get_function(FunctionName="refused"), 404, "ResourceNotFoundException")
    name = "switch-" + runtime.replace(".", "")
    _create(lam, name, "python3.11", python_zip("def handler(e, c):\n    return 1\n"))
    client_error(lambda: lam.update_function_configuration(FunctionName=name, Runtime=runtime),
                 400, "InvalidParameterValueException", expected)
    assert lam.get_function_configuration(FunctionName=name)["Runtime"] == "python3.11"


# AWS's own tutorial bootstrap, as written there: `#!/bin/sh` with bash's `set -o pipefail` and `source`.
SH_BOOTSTRAP = """#!/bin/sh
set -euo pipefail
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE" > /dev/null
done
"""
SH_FUNCTION = """function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="{\\"echo\\": $EVENT_DATA, \\"shell\\": \\"${BASH_VERSION:+bash}\\"}"
  echo $RESPONSE
}
"""


def test_sh_bootstrap_from_aws_tutorial_runs_as_on_amazon_linux(lam: Any) -> None:
    zipped = make_zip({"bootstrap": SH_BOOTSTRAP, "function.sh": SH_FUNCTION}, modes={"bootstrap": 0o755})
    _create(lam, "sh-tutorial", "provided.al2023", zipped, Handler="function.handler")
    out, body = _invoke(lam, "sh-tutorial", {"k": "v"})
    assert "FunctionError" not in out, body
    assert body == {"echo": {"k": "v"}, "shell": "bash"}


def test_awslambdaric_still_works_without_the_venv(lam: Any) -> None:
    pytest.importorskip("awslambdaric")
    _create(lam, "ric-probe", "python3.11", python_zip(PROBE),
            Environment={"Variables": {"LAMBDALITE_RUNTIME_CLIENT": "awslambdaric"}})
    out, body = _invoke(lam, "ric-probe", {"modules": ["pytest", "lambdalite", "boto3", "awslambdaric"]})
    assert "FunctionError" not in out, body
    assert body["found"]["pytest"] == "ModuleNotFoundError: No module named 'pytest'"
    assert body["found"]["lambdalite"] == "ModuleNotFoundError: No module named 'lambdalite'"
    assert body["found"]["boto3"] == "imported" and body["found"]["awslambdaric"] == "imported"
