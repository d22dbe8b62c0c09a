"""The environment pool with real function processes: results, errors, reuse, logs (python runtimes)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from pathlib import Path

import pytest

from lambdalite.model.run import Status
from lambdalite.runtime.interpreters import find_python
from lambdalite.runtime.pool import EnvironmentPool
from tests.e2e.runtime_support import (
    body,
    environment_alive,
    environment_gone,
    environment_pids,
    log_text,
    make_spec,
    request,
    run_with_pool,
    settings_for,
    task_root,
    write_code,
)
from tests.support.server import wait_until

COUNTER = """
import os, sys
count = 0
print("init output")

def handler(event, context):
    global count
    count += 1
    print("invocation", count)
    return {"count": count, "env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"], "event": event,
            "version": list(sys.version_info[:2])}

def boom(event, context):
    global count
    count += 1
    raise ValueError("boom " + str(count))
"""

CONTEXT = """
import os

def handler(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "custom": cc.custom if cc else None,
        "app_title": cc.client.app_title if cc and cc.client else None,
        "identity_id": context.identity.cognito_identity_id,
        "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in (
            "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AWS_EXECUTION_ENV", "AWS_LAMBDA_INITIALIZATION_TYPE", "TZ", "MY_SETTING", "_X_AMZN_TRACE_ID",
            "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_MAX_CONCURRENCY")},
    }
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return write_code(tmp_path / "code", {"handler.py": COUNTER, "ctx.py": CONTEXT})


def test_success_warm_reuse_and_report_lines(tmp_path: Path, code: Path) -> None:
    settings = settings_for(tmp_path)
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        first = await pool.invoke(spec, request({"n": 1}))
        second = await pool.invoke(spec, request({"n": 2}))
        return first, second

    first, second = run_with_pool(settings, scenario)
    assert first.status is Status.OK and second.status is Status.OK
    assert body(first)["count"] == 1 and body(second)["count"] == 2  # module state survived
    assert body(first)["env"] == body(second)["env"]
    assert body(second)["event"] == {"n": 2}
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    assert second.init_duration_ms is None
    assert first.max_memory_mb > 0
    reports = [line for line in log_text(settings).splitlines() if line.startswith("REPORT")]
    assert len(reports) == 2
    pattern = (r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
               r"Memory Size: 128 MB\tMax Memory Used: \d+ MB")
    assert re.fullmatch(pattern + r"\tInit Duration: \d+\.\d\d ms", reports[0])
    assert re.fullmatch(pattern, reports[1])
    text = log_text(settings)
    assert text.index("init output") < text.index("START RequestId:")
    assert "START RequestId: " in text and "Version: $LATEST" in text and "invocation 2" in text


def test_handler_exception_body_and_env_survives(tmp_path: Path, code: Path) -> None:
    spec = make_spec(code, "handler.boom")

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        req = request()
        first = await pool.invoke(spec, req)
        second = await pool.invoke(spec, request())
        return req.request_id, first, second

    request_id, first, second = run_with_pool(settings_for(tmp_path), scenario)
    assert first.status is Status.FUNCTION_ERROR and first.function_error == "Unhandled"
    assert first.error_type == "ValueError"
    error = body(first)
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "boom 1" and error["errorType"] == "ValueError"
    assert error["requestId"] == request_id
    assert any('raise ValueError("boom " + str(count))' in frame for frame in error["stackTrace"])
    assert all("lambdalite_bootstrap" not in frame for frame in error["stackTrace"])
    assert body(second)["errorMessage"] == "boom 2"  # same warm environment


def test_timeout_kills_and_next_invoke_starts_fresh(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import os, time
        def handler(event, context):
            if event.get("sleep"):
                time.sleep(event["sleep"])
            return os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    """})
    spec = make_spec(code, timeout_s=1.0)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        warm_pid = body(await pool.invoke(spec, request()))
        req = request({"sleep": 30})
        timed_out = await pool.invoke(spec, req)
        after = await pool.invoke(spec, request())
        return warm_pid, req.request_id, timed_out, after

    settings = settings_for(tmp_path)
    warm_pid, request_id, timed_out, after = run_with_pool(settings, scenario)
    assert timed_out.status is Status.FUNCTION_ERROR and timed_out.error_type == "Sandbox.Timedout"
    assert body(timed_out) == {"errorType": "Sandbox.Timedout",
                               "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    assert 900 < timed_out.duration_ms < 10_000
    wait_until(lambda: not environment_alive(warm_pid), timeout_s=10, what="timed-out environment killed")
    assert after.status is Status.OK and body(after) != warm_pid
    assert after.init_duration_ms is not None  # a cold start
    assert f"{request_id} Task timed out after 1.00 seconds" in log_text(settings)
    assert "Status: timeout" in log_text(settings)


def test_process_exit_is_runtime_exit_error(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import os, signal
        def handler(event, context):
            if event.get("exit") is not None:
                os._exit(event["exit"])
            if event.get("signal"):
                os.kill(os.getpid(), signal.SIGKILL)
            return "ok"
    """})
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        crash = request({"exit": 1})
        crashed = await pool.invoke(spec, crash)
        clean = request({"exit": 0})
        exited = await pool.invoke(spec, clean)
        killed = request({"signal": True})
        signalled = await pool.invoke(spec, killed)
        after = await pool.invoke(spec, request())
        return crash, crashed, clean, exited, killed, signalled, after

    crash, crashed, clean, exited, killed, signalled, after = run_with_pool(settings_for(tmp_path), scenario)
    assert crashed.status is Status.FUNCTION_ERROR
    assert body(crashed) == {"errorType": "Runtime.ExitError", "errorMessage":
                             f"RequestId: {crash.request_id} Error: Runtime exited with error: exit status 1"}
    assert body(exited)["errorMessage"] == f"RequestId: {clean.request_id} Error: Runtime exited without providing a reason"
    assert body(signalled)["errorMessage"] == (
        f"RequestId: {killed.request_id} Error: Runtime exited with error: signal: killed")
    assert after.status is Status.OK and body(after) == "ok"


def test_memory_limit_kills_the_environment(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import time
        hoard = []
        def handler(event, context):
            for _ in range(event["mb"] // 16):
                hoard.append(b"x" * (16 << 20))
                time.sleep(event.get("pause", 0))
            return len(hoard)
    """})
    spec = make_spec(code, memory_mb=128)
    settings = settings_for(tmp_path)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        small = await pool.invoke(spec, request({"mb": 32}))
        creeping = request({"mb": 400, "pause": 0.02})
        crept = await pool.invoke(spec, creeping)
        spike = await pool.invoke(spec, request({"mb": 400}))
        after = await pool.invoke(spec, request({"mb": 16}))
        return small, creeping, crept, spike, after

    small, creeping, crept, spike, after = run_with_pool(settings, scenario)
    assert small.status is Status.OK
    for result in (crept, spike):
        assert result.status is Status.FUNCTION_ERROR and result.error_type == "Runtime.ExitError"
        assert body(result)["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert body(crept)["errorMessage"].startswith(f"RequestId: {creeping.request_id} ")
    assert after.status is Status.OK and body(after) == 1  # fresh environment, empty hoard
    assert "Status: error\tError Type: Runtime.OutOfMemory" in log_text(settings)


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ({"handler.py": "import not_a_module\n"}, "handler.handler", "Runtime.ImportModuleError",
     "Unable to import module 'handler': No module named 'not_a_module'"),
    ({}, "missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'"),
    ({"handler.py": "x = 1\n"}, "handler.handler", "Runtime.HandlerNotFound",
     "Handler 'handler' missing on module 'handler'"),
    ({"handler.py": "def handler(event, context)\n    return 1\n"}, "handler.handler", "Runtime.UserCodeSyntaxError",
     None),
    ({"handler.py": "raise RuntimeError('init failed')\n"}, "handler.handler", "RuntimeError", "init failed"),
    ({"handler.py": "x = 1\n"}, "nodot", "Runtime.MalformedHandlerName", None),
])
def test_init_errors(tmp_path: Path, files: dict[str, str], handler: str, error_type: str,
                     message: str | None) -> None:
    code = write_code(tmp_path / "code", files)
    spec = make_spec(code, handler)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        first = await pool.invoke(spec, request())
        second = await pool.invoke(spec, request())
        return first, second, pool.stats()

    settings = settings_for(tmp_path)
    first, second, stats = run_with_pool(settings, scenario)
    for result in (first, second):  # init is retried by the next invoke, failing the same way
        assert result.status is Status.FUNCTION_ERROR and result.error_type == error_type
        error = body(result)
        assert error["errorType"] == error_type and isinstance(error["stackTrace"], list)
        if message is not None:
            assert error["errorMessage"] == message
    if error_type == "Runtime.UserCodeSyntaxError":
        assert body(first)["errorMessage"].startswith("Syntax error in module 'handler': ")
    assert stats["idle"] == 0
    assert f"[ERROR] {error_type}" in log_text(settings)


def test_context_environment_and_client_context(tmp_path: Path, code: Path) -> None:
    spec = make_spec(code, "ctx.handler", memory_mb=256, timeout_s=7, environment={"MY_SETTING": "on"})

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        req = request(client_context='{"custom": {"k": "v"}, "client": {"app_title": "app"}}',
                      cognito_identity='{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool"}',
                      trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                      invoked_arn=spec.function_arn + ":live")
        return req, await pool.invoke(spec, req)

    req, result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.OK, result.payload
    ctx = body(result)
    assert ctx["aws_request_id"] == req.request_id
    assert ctx["function_name"] == "fn" and ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == spec.function_arn + ":live"
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["log_group_name"] == "/aws/lambda/fn"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", ctx["log_stream_name"])
    assert 5_000 < ctx["remaining_ms"] <= 7_000
    assert ctx["custom"] == {"k": "v"} and ctx["app_title"] == "app" and ctx["identity_id"] == "id-1"
    assert ctx["cwd"] == task_root(code)
    env = ctx["env"]
    assert env["_HANDLER"] == "ctx.handler" and env["LAMBDA_TASK_ROOT"] == task_root(code)
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand" and env["TZ"] == "UTC"
    assert env["MY_SETTING"] == "on"
    assert env["_X_AMZN_TRACE_ID"] == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_LAMBDA_MAX_CONCURRENCY"] is None


def test_log_tail_is_this_invocations_log(tmp_path: Path, code: Path) -> None:
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        await pool.invoke(spec, request())
        req = request(tail_log=True)
        return req, await pool.invoke(spec, req), await pool.invoke(spec, request())

    req, tailed, untailed = run_with_pool(settings_for(tmp_path), scenario)
    lines = tailed.log_tail.splitlines()
    assert lines[0] == f"START RequestId: {req.request_id} Version: $LATEST"
    assert lines[1] == "invocation 2"
    assert lines[2] == f"END RequestId: {req.request_id}"
    assert lines[3].startswith(f"REPORT RequestId: {req.request_id}\tDuration: ")
    assert len(lines) == 4 and untailed.log_tail == ""


def test_log_tail_is_capped_at_4_kb(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        def handler(event, context):
            for i in range(500):
                print("line", i, "x" * 40)
    """})

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(make_spec(code), request(tail_log=True))

    result = run_with_pool(settings_for(tmp_path), scenario)
    assert len(result.log_tail.encode()) <= 4096
    assert result.log_tail.splitlines()[-1].startswith("REPORT RequestId: ")


@pytest.mark.skipif(find_python(12) in (None, sys.executable), reason="no separate python3.12 installed")
def test_python312_runs_on_python312(tmp_path: Path, code: Path) -> None:
    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(make_spec(code, runtime="python3.12"), request())

    assert body(run_with_pool(settings_for(tmp_path), scenario))["version"] == [3, 12]


def test_python311_runs_on_a_real_python311_not_the_servers_venv_with_boto3(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import sys, boto3
        def handler(event, context):
            return [sys.executable, list(sys.version_info[:2])]
    """})

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(make_spec(code, runtime="python3.11"), request())

    result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.OK, result.payload
    assert body(result) == [find_python(11), [3, 11]] and sys.executable != find_python(11)


def test_new_revision_gets_new_environment_and_old_idle_stops(tmp_path: Path, code: Path) -> None:
    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        old = await pool.invoke(make_spec(code, revision_id="a"), request())
        new = await pool.invoke(make_spec(code, revision_id="b"), request())
        return old, new, pool.stats()

    old, new, stats = run_with_pool(settings_for(tmp_path), scenario)
    assert body(old)["env"] != body(new)["env"] and body(new)["count"] == 1
    wait_until(lambda: not environment_alive(body(old)["env"]), timeout_s=10, what="old revision stopped")
    assert stats["environments"] == 1


def test_concurrent_invokes_get_separate_environments_then_reap(tmp_path: Path) -> None:
    import asyncio

    code = write_code(tmp_path / "code", {"handler.py": """
        import os, time
        def handler(event, context):
            time.sleep(0.3)
            return os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    """})
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        results = await asyncio.gather(*(pool.invoke(spec, request()) for _ in range(3)))
        before = pool.stats()
        await pool.reap_idle()  # idle_env_timeout_s is 0: all of them go
        return results, before, pool.pids()

    results, before, pids_after = run_with_pool(settings_for(tmp_path, idle_env_timeout_s=0.0), scenario)
    streams = {body(r) for r in results}
    assert len(streams) == 3 and before["idle"] == 3
    for stream in streams:
        wait_until(functools.partial(environment_gone, stream), timeout_s=10, what="idle environment stopped")


def test_close_stops_everything(tmp_path: Path, code: Path) -> None:
    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        result = await pool.invoke(make_spec(code), request())
        return body(result)["env"], environment_pids(body(result)["env"])

    stream, pids = run_with_pool(settings_for(tmp_path), scenario)
    assert pids and os.getpid() not in pids
    wait_until(lambda: not environment_alive(stream), timeout_s=10, what="environment stopped by close()")


def test_response_larger_than_6_mb_is_a_function_error(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        def handler(event, context):
            return "x" * event["size"]
    """})
    spec = make_spec(code)

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return (await pool.invoke(spec, request({"size": 7_000_000})),
                await pool.invoke(spec, request({"size": 6_000_000})))

    too_large, fits = run_with_pool(settings_for(tmp_path), scenario)
    assert too_large.status is Status.FUNCTION_ERROR and too_large.error_type == "Function.ResponseSizeTooLarge"
    assert body(too_large) == {"errorMessage": "Response payload size exceeded maximum allowed payload size "
                                               "(6291556 bytes).", "errorType": "Function.ResponseSizeTooLarge"}
    assert fits.status is Status.OK and len(fits.payload) == 6_000_002


def test_boto3_is_importable_on_every_python_runtime(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"handler.py": """
        import sys
        import boto3

        def handler(event, context):
            boto3.client("lambda", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")  # builds, no call
            return [boto3.__version__, list(sys.version_info[:2])]
    """})

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(make_spec(code, runtime="python3.12", timeout_s=30), request())

    result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.OK, result.payload


@pytest.mark.skipif(find_python(14) is not None, reason="python3.14 is installed here")
def test_missing_interpreter_is_a_function_error_not_another_python(tmp_path: Path, code: Path) -> None:
    """CreateFunction refuses such a runtime; a function stored before the host lost it fails to start."""
    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(make_spec(code, runtime="python3.14"), request())

    result = run_with_pool(settings_for(tmp_path), scenario)
    assert result.status is Status.FUNCTION_ERROR and result.error_type == "Runtime.InvalidRuntime"
    assert "python3.14 is not installed on this lambdalite host" in body(result)["errorMessage"]


def test_retire_stops_a_functions_environments(tmp_path: Path, code: Path) -> None:
    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        before = body(await pool.invoke(make_spec(code), request()))["env"]
        await pool.retire("fn")
        after = await pool.invoke(make_spec(code), request())
        return before, after

    before, after = run_with_pool(settings_for(tmp_path), scenario)
    wait_until(lambda: not environment_alive(before), timeout_s=10, what="retired environment stopped")
    assert body(after)["count"] == 1 and body(after)["env"] != before


def test_environment_killed_while_idle_is_replaced(tmp_path: Path, code: Path) -> None:
    import asyncio
    import signal

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        stream = body(await pool.invoke(make_spec(code), request()))["env"]
        for pid in environment_pids(stream):  # the runtime and its sandbox, if any
            with contextlib.suppress(ProcessLookupError):  # killing bwrap may have taken the rest already
                os.kill(pid, signal.SIGKILL)
        for _ in range(500):  # let the loop notice the exit (polled, bounded)
            if pool.stats()["environments"] == 0:
                break
            await asyncio.sleep(0.01)
        return stream, await pool.invoke(make_spec(code), request())

    stream, after = run_with_pool(settings_for(tmp_path), scenario)
    assert after.status is Status.OK and body(after)["env"] != stream and body(after)["count"] == 1


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13, 14])
def test_bootstrap_runs_on_each_installed_python(tmp_path: Path, code: Path, minor: int) -> None:
    if find_python(minor) is None:
        pytest.skip(f"python3.{minor} is not installed")
    runtime = f"python3.{minor}"
    good, bad = make_spec(code, runtime=runtime), make_spec(code, "handler.boom", runtime=runtime, name="bad")

    async def scenario(pool: EnvironmentPool):  # type: ignore[no-untyped-def]
        return await pool.invoke(good, request({"v": minor})), await pool.invoke(bad, request())

    ok, failed = run_with_pool(settings_for(tmp_path), scenario)
    assert ok.status is Status.OK and body(ok)["version"] == [3, minor] and body(ok)["event"] == {"v": minor}
    assert failed.status is Status.FUNCTION_ERROR and body(failed)["errorType"] == "ValueError"
