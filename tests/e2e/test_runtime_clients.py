"""Other runtime clients against lambdalite's Runtime API: awslambdaric and a custom `bootstrap` (curl)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lambdalite.model.run import Status
from lambdalite.runtime.pool import EnvironmentPool
from tests.e2e.runtime_support import (
    body,
    log_text,
    make_spec,
    request,
    run_with_pool,
    settings_for,
    task_root,
    write_code,
)

HANDLERS = """
import os
count = 0

def handler(event, context):
    global count
    count += 1
    print("ric says", count)
    cc = context.client_context
    return {"count": count, "event": event, "request_id": context.aws_request_id,
            "custom": cc.custom if cc else None, "app_title": cc.client.app_title if cc else None,
            "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")}

def boom(event, context):
    raise KeyError("nope")
"""

SHELL_BOOTSTRAP = """
#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "bootstrap init for ${_HANDLER}"
COUNT=0
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  COUNT=$((COUNT + 1))
  echo "handling $REQUEST_ID"
  if [[ "$EVENT" == *fail* ]]; then
    curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" \\
      -d '{"errorMessage":"it failed","errorType":"Custom.Failure"}' > /dev/null
  else
    curl -sS -X POST "$API/invocation/$REQUEST_ID/response" \\
      -d "{\\"event\\": $EVENT, \\"count\\": $COUNT, \\"deadline\\": $DEADLINE}" > /dev/null
  fi
done
"""


@pytest.fixture
def ric_code(tmp_path: Path) -> Path:
    return write_code(tmp_path / "code", {"handler.py": HANDLERS})


def test_awslambdaric_success_reuse_and_client_context(tmp_path: Path, ric_code: Path) -> None:
    pytest.importorskip("awslambdaric")
    spec = make_spec(ric_code, runtime_client="awslambdaric")
    settings = settings_for(tmp_path)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        first = request({"a": 1})
        second = request(client_context='{"custom": {"k": "v"}, "client": {"app_title": "demo"}}')
        return first, await pool.invoke(spec, first), await pool.invoke(spec, second)

    first_req, first, second = run_with_pool(settings, scenario)
    assert first.status is Status.OK, first.payload
    assert body(first)["event"] == {"a": 1} and body(first)["request_id"] == first_req.request_id
    assert body(first)["max_concurrency"] is None
    assert first.init_duration_ms is not None
    assert second.status is Status.OK, second.payload
    assert body(second)["count"] == 2
    assert body(second)["custom"] == {"k": "v"} and body(second)["app_title"] == "demo"
    assert "ric says 2" in log_text(settings)


def test_awslambdaric_handler_exception(tmp_path: Path, ric_code: Path) -> None:
    pytest.importorskip("awslambdaric")
    spec = make_spec(ric_code, "handler.boom", runtime_client="awslambdaric")

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        req = request()
        return req, await pool.invoke(spec, req)

    req, result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.FUNCTION_ERROR and result.error_type == "KeyError"
    error = body(result)
    assert error["errorType"] == "KeyError" and error["errorMessage"] == "'nope'"
    assert error["requestId"] == req.request_id and error["stackTrace"]


def test_awslambdaric_import_error(tmp_path: Path, ric_code: Path) -> None:
    pytest.importorskip("awslambdaric")
    spec = make_spec(ric_code, "nothere.handler", runtime_client="awslambdaric")

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(spec, request())

    result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.FUNCTION_ERROR and result.error_type == "Runtime.ImportModuleError"
    assert body(result)["errorMessage"] == "Unable to import module 'nothere': No module named 'nothere'"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is needed by the shell bootstrap")
@pytest.mark.parametrize("runtime", ["provided.al2023", "provided"])
def test_provided_shell_bootstrap(tmp_path: Path, runtime: str) -> None:
    code = write_code(tmp_path / "code", {"bootstrap": SHELL_BOOTSTRAP}, executable=("bootstrap",))
    spec = make_spec(code, "function.handler", runtime)
    settings = settings_for(tmp_path)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return (await pool.invoke(spec, request({"x": 1})), await pool.invoke(spec, request({"x": 2})),
                await pool.invoke(spec, request({"fail": True})))

    first, second, failed = run_with_pool(settings, scenario)
    assert first.status is Status.OK, first.payload
    assert body(first)["event"] == {"x": 1} and body(first)["count"] == 1
    assert body(second)["count"] == 2 and body(second)["deadline"] > 1_600_000_000_000
    assert first.init_duration_ms is not None and second.init_duration_ms is None
    assert failed.status is Status.FUNCTION_ERROR and failed.error_type == "Custom.Failure"
    assert body(failed) == {"errorMessage": "it failed", "errorType": "Custom.Failure"}
    text = log_text(settings)
    assert "bootstrap init for function.handler" in text and "handling " in text


def test_provided_without_bootstrap_is_invalid_entrypoint(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"main.sh": "echo hi\n"})

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(make_spec(code, "x", "provided.al2023"), request())

    result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.FUNCTION_ERROR and result.error_type == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap(s)" in body(result)["errorMessage"]


def test_provided_bootstrap_that_cannot_execute(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"bootstrap": "#!/no/such/interpreter\necho hi\n"},
                      executable=("bootstrap",))

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        req = request()
        return req, await pool.invoke(make_spec(code, "x", "provided.al2"), req)

    req, result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.FUNCTION_ERROR and result.error_type == "Runtime.InvalidEntrypoint"
    assert body(result)["errorMessage"] == (
        f"RequestId: {req.request_id} Error: fork/exec {task_root(code)}/bootstrap: no such file or directory")
