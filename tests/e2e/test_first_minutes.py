"""What a new user meets first: where the server listens, a busy port, and operations lambdalite does
not serve (AWS's envelope, the operation's name, "is not supported by lambdalite"), on every service."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.awscli import run_cli
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until
from tests.support.zips import python_zip

server = module_server("first-minutes")
lam = module_client("lambda")
events = module_client("events")


def test_serve_says_where_it_listens_and_its_data_folder(server: LambdaliteProcess) -> None:
    line = wait_until(lambda: next((x for x in server.log_text().splitlines() if "listening on" in x), None),
                      timeout_s=10, what="the start line")
    assert f"http://127.0.0.1:{server.port}" in line
    assert str(server.data_dir.resolve()) in line


def test_a_busy_port_is_one_clear_line(server: LambdaliteProcess, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "lambdalite", "serve", "--host", "127.0.0.1", "--port", str(server.port),
           "--data-dir", str(tmp_path / "other")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return dict(info.value.response["Error"]) | {"status": info.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_lambda_operations_not_served_name_themselves(lam: Any) -> None:
    error = _error(lam.get_function_url_config, FunctionName="any")
    assert error["Code"] == "UnknownOperationException" and error["status"] == 404
    assert error["Message"] == "GetFunctionUrlConfig is not supported by lambdalite."
    error = _error(lam.list_provisioned_concurrency_configs, FunctionName="any")
    assert error["Message"] == "ListProvisionedConcurrencyConfigs is not supported by lambdalite."


def test_eventbridge_and_sqs_operations_not_served_name_themselves(events: Any, server: LambdaliteProcess) -> None:
    error = _error(events.list_archives)
    assert (error["Code"], error["Message"]) == ("UnknownOperationException", "ListArchives is not supported by lambdalite.")
    # SQS serves every operation of botocore's model: an action beyond it, in the query protocol's form
    request = urllib.request.Request(server.endpoint + "/", data=b"Action=FrobnicateQueue&Version=2012-11-05",
                                     method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=10)
    body = exc.value.read().decode()
    assert exc.value.code == 400 and "<Code>InvalidAction</Code>" in body
    assert "<Message>The action FrobnicateQueue is not supported by lambdalite.</Message>" in body


def test_the_cli_shows_the_operation_not_served(server: LambdaliteProcess) -> None:
    result = run_cli(2, server.endpoint, ["lambda", "get-function-url-config", "--function-name", "f"],
                     check=False)
    assert result.returncode != 0
    assert "GetFunctionUrlConfig is not supported by lambdalite" in result.stderr


def test_a_relative_data_folder_runs_functions(tmp_path: Path) -> None:
    """`serve --data-dir data` (relative, as the README writes it) means the folder it was started in,
    for the store and for the sandbox that mounts the function's code from it."""
    proc = LambdaliteProcess(Path("data"), cwd=tmp_path).start()
    try:
        lam = proc.client("lambda")
        lam.create_function(FunctionName="rel", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                            Handler="handler.handler",
                            Code={"ZipFile": python_zip("def handler(event, context):\n    return {'ok': 1}\n")})
        lam.get_waiter("function_active_v2").wait(FunctionName="rel")
        answer = lam.invoke(FunctionName="rel", Payload=b"{}")
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        assert answer["Payload"].read() == b'{"ok": 1}'
        assert (tmp_path / "data" / "code").is_dir()
    finally:
        proc.kill()
