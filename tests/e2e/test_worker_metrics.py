"""A `lambdalite worker` shows its dispatcher's metrics on --metrics-port (it has no API port)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.server import LambdaliteProcess, free_port, wait_until
from tests.support.zips import ECHO, python_zip


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def test_worker_metrics_port(tmp_path: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    api = start_server(data_dir=data, args=["--no-dispatch"])
    lam = api.client("lambda")
    lam.create_function(FunctionName="counted", Runtime="python3.11", Handler="handler.handler",
                        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": python_zip(ECHO)})
    port = free_port()
    worker = LambdaliteProcess(data, role="worker", args=["--metrics-port", str(port)]).start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(base + "/_lambdalite/health")[0] == 200, timeout_s=30, what="worker metrics port")
        lam.invoke(FunctionName="counted", InvocationType="Event", Payload=json.dumps({"x": 1}))
        wait_until(lambda: 'lambda_Invocations_total{function_name="counted"} 1.0' in _get(base + "/metrics")[1],
                   timeout_s=60, what="the worker counted the invocation")
        status, body = _get(base + "/2015-03-31/functions")
        assert status == 404 and "only /metrics" in body
    finally:
        worker.kill()
