"""The AWS CLI (v1 from the venv, v2 at /usr/bin/aws) against lambdalite's Lambda API: the README flow."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_lambda_helpers import ROLE
from tests.support.awscli import cli_json, run_cli
from tests.support.server import LambdaliteProcess, module_server
from tests.support.zips import python_zip

HANDLER = """
def handler(event, context):
    print("got", event)
    return {"hello": event.get("key")}
"""


server = module_server("lambda")


def _readme_flow(server: LambdaliteProcess, version: int, tmp_path: Path) -> None:
    name = f"cli-v{version}"
    (tmp_path / "function.zip").write_bytes(python_zip(HANDLER))
    created = cli_json(
        version,
        server.endpoint,
        [
            "lambda",
            "create-function",
            "--function-name",
            name,
            "--runtime",
            "python3.11",
            "--handler",
            "handler.handler",
            "--role",
            ROLE,
            "--zip-file",
            "fileb://function.zip",
        ],
        cwd=tmp_path,
    )
    assert created["FunctionName"] == name and created["State"] == "Active"
    run_cli(
        version,
        server.endpoint,
        ["lambda", "wait", "function-active-v2", "--function-name", name],
        cwd=tmp_path,
    )
    binary = ["--cli-binary-format", "raw-in-base64-out"] if version == 2 else []
    result = cli_json(
        version,
        server.endpoint,
        ["lambda", "invoke", "--function-name", name, *binary, "--payload", '{ "key": "value" }', "out.json"],
        cwd=tmp_path,
    )
    assert result["StatusCode"] == 200 and result["ExecutedVersion"] == "$LATEST"
    assert json.loads((tmp_path / "out.json").read_text()) == {"hello": "value"}
    tail = cli_json(
        version,
        server.endpoint,
        ["lambda", "invoke", "--function-name", name, "--log-type", "Tail", "tail.json"],
        cwd=tmp_path,
    )
    assert "LogResult" in tail
    missing = run_cli(
        version,
        server.endpoint,
        ["lambda", "get-function", "--function-name", "cli-nope"],
        cwd=tmp_path,
        check=False,
    )
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    run_cli(version, server.endpoint, ["lambda", "delete-function", "--function-name", name], cwd=tmp_path)


def test_cli_v1_readme_flow(server: LambdaliteProcess, tmp_path: Path) -> None:
    _readme_flow(server, 1, tmp_path)


def test_cli_v2_readme_flow(server: LambdaliteProcess, tmp_path: Path) -> None:
    _readme_flow(server, 2, tmp_path)
