"""Execution environments behind the real server: boto3 Invoke with log tails, `lambdalite logs`, kill -9."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.runtime_support import environment_alive
from tests.e2e.test_lambda_helpers import create
from tests.support.server import LambdaliteProcess, module_server, wait_until

SOURCE = """
import os, time
count = 0
print("cold init")

def handler(event, context):
    global count
    count += 1
    print("call", count)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"count": count, "env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
"""


server = module_server("lambda")


@pytest.fixture(scope="module")
def lam(server: LambdaliteProcess) -> Any:
    client = server.client("lambda")
    create(client, "rt-fn", source=SOURCE, Timeout=1, MemorySize=256)
    return client


def _invoke(lam: Any, payload: dict[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    response = lam.invoke(FunctionName="rt-fn", Payload=json.dumps(payload).encode(), LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    return json.loads(response["Payload"].read()), log.splitlines(), response


def test_tail_cold_then_warm_then_timeout(lam: Any) -> None:
    first, cold_log, response = _invoke(lam, {})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert first["count"] == 1
    assert cold_log[0] == "cold init"
    assert cold_log[1] == f"START RequestId: {request_id} Version: $LATEST"
    assert cold_log[2] == "call 1" and cold_log[3] == f"END RequestId: {request_id}"
    assert cold_log[4].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "\tMemory Size: 256 MB\t" in cold_log[4] and "\tInit Duration: " in cold_log[4]

    second, warm_log, _ = _invoke(lam, {})
    assert second == {"count": 2, "env": first["env"]}
    assert "Init Duration" not in warm_log[-1]

    timed_out, timeout_log, response = _invoke(lam, {"sleep": 5})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert timed_out == {"errorType": "Sandbox.Timedout",
                         "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    assert any(line.endswith(f"{request_id} Task timed out after 1.00 seconds") for line in timeout_log)
    wait_until(lambda: not environment_alive(first["env"]), timeout_s=10, what="timed-out environment killed")

    after, _, _ = _invoke(lam, {})
    assert after["count"] == 1 and after["env"] != first["env"]


def test_logs_cli_shows_the_function_log(server: LambdaliteProcess, lam: Any) -> None:
    _invoke(lam, {})

    def printed() -> str:
        out = subprocess.run([sys.executable, "-m", "lambdalite", "logs", "rt-fn", "--data-dir",
                              str(server.data_dir)], capture_output=True, text=True, timeout=60)
        return out.stdout if out.returncode == 0 and "REPORT RequestId:" in out.stdout else ""

    text = wait_until(printed, timeout_s=15, what="lambdalite logs rt-fn")
    assert "START RequestId: " in text and "call " in text and "END RequestId: " in text


def test_kill_9_of_the_server_leaves_no_environments(tmp_path_factory: pytest.TempPathFactory) -> None:
    proc = LambdaliteProcess(tmp_path_factory.mktemp("orphans") / "data").start()
    try:
        lam = proc.client("lambda")
        create(lam, "rt-orphan", source=SOURCE)
        stream = json.loads(lam.invoke(FunctionName="rt-orphan", Payload=b"{}")["Payload"].read())["env"]
        assert environment_alive(stream)
        proc.kill_server_only()
        wait_until(lambda: not environment_alive(stream), timeout_s=15, what="environment to die with the server")
    finally:
        proc.kill()
