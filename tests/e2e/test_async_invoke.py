"""Event invokes against a real server: 202, request ids across retries, retry timing, throttles, limits.

One server for the module (retry base delay 1 s, lease 2 s); each test uses its own function.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.async_support import (
    attempts_of,
    create_recorder,
    event_invoke,
    records,
    wait_outcome,
)
from tests.support.awscli import run_cli
from tests.support.server import module_client, module_server, wait_until

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

ENV = {"LAMBDA_RETRY_BASE_DELAY": "1", "LAMBDALITE_LEASE_SECONDS": "2", "LAMBDALITE_THROTTLE_MAX_DELAY": "1"}


srv = module_server("async", env=ENV)
lam = module_client("lambda", server="srv")


@pytest.fixture
def fn(lam: Any, tmp_path: Path) -> tuple[str, Path]:
    """A fresh recording function: (name, its record file)."""
    name = f"rec-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path)
    return name, path


def test_event_invoke_is_202_with_empty_body_and_the_function_sees_the_request_id(lam: Any, fn: Any) -> None:
    name, path = fn
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"hello": "world"}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == request_id
    (seen,) = wait_until(lambda: attempts_of(path, request_id), timeout_s=60, what="the attempt")
    assert seen["event"] == {"hello": "world"}
    assert seen["arn"].endswith(f":function:{name}")


def test_empty_payload_is_an_empty_object(lam: Any, fn: Any) -> None:
    name, path = fn
    request_id = event_invoke(lam, name, b"")
    (seen,) = wait_until(lambda: attempts_of(path, request_id), timeout_s=60)
    assert seen["event"] == {}


def test_default_retries_three_attempts_same_request_id_spaced_one_then_two_base(srv: Any, lam: Any, fn: Any) -> None:
    name, path = fn
    request_id = event_invoke(lam, name, {"fail": True})
    result = wait_outcome(srv.data_dir, request_id)
    assert result["condition"] == "RetriesExhausted"
    assert result["approximate_invoke_count"] == 3
    assert result["function_error"] == "Unhandled"
    tries = attempts_of(path, request_id)
    assert len(tries) == 3
    gap1, gap2 = tries[1]["t"] - tries[0]["t"], tries[2]["t"] - tries[1]["t"]
    assert 0.9 <= gap1 < 20, gap1
    assert 1.8 <= gap2 < 30, gap2


def test_maximum_retry_attempts_zero_gives_one_attempt(srv: Any, lam: Any, fn: Any) -> None:
    name, path = fn
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    request_id = event_invoke(lam, name, {"fail": True})
    result = wait_outcome(srv.data_dir, request_id)
    assert (result["condition"], result["approximate_invoke_count"]) == ("RetriesExhausted", 1)
    assert len(attempts_of(path, request_id)) == 1


def test_success_outcome_counts_one_attempt(srv: Any, lam: Any, fn: Any) -> None:
    name, _ = fn
    request_id = event_invoke(lam, name, {"x": 1})
    result = wait_outcome(srv.data_dir, request_id)
    assert (result["condition"], result["approximate_invoke_count"]) == ("Success", 1)
    assert json.loads(result["response_payload"]) == {"ok": True, "tag": "v1"}


def test_timeout_is_retried(srv: Any, lam: Any, tmp_path: Path) -> None:
    name = f"slow-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path, timeout_s=1)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    request_id = event_invoke(lam, name, {"sleep": 5})
    result = wait_outcome(srv.data_dir, request_id)
    assert (result["condition"], result["approximate_invoke_count"]) == ("RetriesExhausted", 2)
    assert result["error_type"] == "Sandbox.Timedout"
    assert len(attempts_of(path, request_id)) == 2


def test_reserved_concurrency_one_runs_both_slow_events_while_sync_invoke_is_throttled(
    srv: Any, lam: Any, fn: Any
) -> None:
    name, path = fn
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    first = event_invoke(lam, name, {"sleep": 3})
    second = event_invoke(lam, name, {"sleep": 3})
    wait_until(lambda: records(path), timeout_s=60, what="one slow event running")
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    for request_id in (first, second):
        assert wait_outcome(srv.data_dir, request_id)["condition"] == "Success"
    starts = sorted(r["t"] for r in records(path))
    assert len(starts) == 2
    assert starts[1] - starts[0] >= 2.5  # one at a time


def test_reserved_concurrency_zero_ends_without_an_attempt(srv: Any, lam: Any, fn: Any) -> None:
    name, path = fn
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    request_id = event_invoke(lam, name, {"x": 1})
    result = wait_outcome(srv.data_dir, request_id)
    assert (result["condition"], result["approximate_invoke_count"]) == ("ZeroReservedConcurrency", 0)
    assert result["response_payload"] is None and result["status_code"] is None
    assert records(path) == []


def test_event_invoke_of_an_alias_and_a_version(srv: Any, lam: Any, fn: Any) -> None:
    name, path = fn
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    by_alias = event_invoke(lam, name, {"a": 1}, Qualifier="live")
    by_version = event_invoke(lam, f"{name}:{version}", {"v": 1})
    assert wait_outcome(srv.data_dir, by_alias)["executed_version"] == version
    assert wait_outcome(srv.data_dir, by_version)["function_arn"].endswith(f":{name}:{version}")
    (seen,) = attempts_of(path, by_alias)
    assert seen["arn"].endswith(f":function:{name}:live")


def test_payload_over_one_mib_is_413_with_awss_message(lam: Any, fn: Any) -> None:
    name, _ = fn
    payload = b'"' + b"x" * 1_048_576 + b'"'
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    error = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Code"] == "RequestEntityTooLargeException"
    assert error["Message"] == (
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )


def test_payload_of_exactly_one_mib_is_accepted(lam: Any, fn: Any) -> None:
    name, path = fn
    payload = b'"' + b"x" * (1_048_576 - 2) + b'"'
    request_id = event_invoke(lam, name, payload)
    wait_until(lambda: attempts_of(path, request_id), timeout_s=60)


def test_invalid_json_is_400(lam: Any, fn: Any) -> None:
    name, _ = fn
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert err.value.response["Error"]["Message"].startswith("Could not parse request body into json")


def test_missing_function_is_404(lam: Any) -> None:
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="no-such-function", InvocationType="Event", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function:$LATEST"
    )


def test_missing_qualifier_is_404(lam: Any, fn: Any) -> None:
    name, _ = fn
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}", Qualifier="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_legacy_invoke_async(srv: Any, lam: Any, fn: Any) -> None:
    name, path = fn
    response = lam.invoke_async(FunctionName=name, InvokeArgs=b'{"legacy": true}')
    assert response["Status"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    (seen,) = wait_until(lambda: attempts_of(path, request_id), timeout_s=60)
    assert seen["event"] == {"legacy": True}


def test_legacy_invoke_async_limit_is_256_kb(lam: Any, fn: Any) -> None:
    name, _ = fn
    with pytest.raises(ClientError) as err:
        lam.invoke_async(FunctionName=name, InvokeArgs=b'"' + b"x" * 262_144 + b'"')
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_aws_cli_v2_event_invoke(srv: Any, lam: Any, tmp_path: Path) -> None:
    name = "my-function"
    path = tmp_path / "records.jsonl"
    create_recorder(lam, name, path)
    result = run_cli(2, srv.endpoint, [
        "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
        "--cli-binary-format", "raw-in-base64-out", "--payload", '{ "key": "value" }', "response.json",
    ], cwd=tmp_path)
    assert json.loads(result.stdout) == {"StatusCode": 202}
    assert (tmp_path / "response.json").read_bytes() == b""
    (seen,) = wait_until(lambda: records(path), timeout_s=60)
    assert seen["event"] == {"key": "value"}


def test_metrics_use_aws_names(srv: Any, lam: Any, fn: Any) -> None:
    name, _ = fn
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    request_id = event_invoke(lam, name, {"fail": True})
    wait_outcome(srv.data_dir, request_id)
    import urllib.request

    with urllib.request.urlopen(srv.endpoint + "/metrics") as r:
        text = r.read().decode()
    for metric in ("lambda_AsyncEventsReceived_total", "lambda_Invocations_total", "lambda_Errors_total",
                   "lambda_AsyncEventsDropped_total", "lambda_AsyncEventAge_milliseconds_count",
                   "lambda_Duration_milliseconds_count"):
        assert f'{metric}{{function_name="{name}"}}' in text, metric
