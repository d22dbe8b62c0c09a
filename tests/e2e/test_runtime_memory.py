"""A warm environment's memory stays flat over many invocations (issue 14, finding 7), and environments
are recycled after a number of invocations or once their RSS passes a share of MemorySize.

The bootstrap used to set `_X_AMZN_TRACE_ID` with setenv(), and glibc keeps every replaced value. Each
invocation here carries a unique 8 kB trace header, so 300 of them would leak ~2.4 MB on that code: a
clear signal after a few seconds instead of ~100,000 invocations of ordinary 100-byte headers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.e2e.test_lambda_helpers import create
from tests.support.server import LambdaliteProcess, module_server

REPORTER = """
import ctypes, os, subprocess

libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
ballast = []

def handler(event, context):
    with open("/proc/self/statm") as statm:
        out = {"rss_kb": int(statm.read().split()[1]) * PAGE_KB, "env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
    if event.get("check"):
        out["python"] = os.environ.get("_X_AMZN_TRACE_ID")
        out["c"] = (libc.getenv(b"_X_AMZN_TRACE_ID") or b"").decode()
        out["child"] = subprocess.run(["/bin/sh", "-c", 'printf %s "$_X_AMZN_TRACE_ID"'],
                                      capture_output=True, text=True).stdout
    if event.get("ballast_mb"):
        ballast.append(bytearray(event["ballast_mb"] * 1024 * 1024))
    return out
"""

WARMUP = 30
INVOCATIONS = 300
PAD = "x" * 8000
# Generous against allocator noise (measured: under 10 kB), far below the ~2.4 MB the leak added.
MAX_GROWTH_KB = 512

srv = module_server("runtime-memory")


def invoker(server: LambdaliteProcess) -> tuple[Any, dict[str, str]]:
    """A lambda client that sends `trace["header"]` as X-Amzn-Trace-Id on every Invoke."""
    client = server.client("lambda")
    trace = {"header": ""}

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = trace["header"]

    client.meta.events.register("before-sign.lambda.Invoke", add_header)
    return client, trace


def invoke(client: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    assert "FunctionError" not in response, response
    return json.loads(response["Payload"].read())  # type: ignore[no-any-return]


def unique_header() -> str:
    return f"Root=1-5f000000-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0;Pad={PAD}"


def test_rss_of_a_warm_environment_stays_flat_with_new_trace_ids(srv: LambdaliteProcess) -> None:
    client, trace = invoker(srv)
    name = f"mem-{uuid.uuid4().hex[:8]}"
    create(client, name, REPORTER, MemorySize=256)
    for _ in range(WARMUP):
        trace["header"] = unique_header()
        first = invoke(client, name)
    for _ in range(INVOCATIONS):
        trace["header"] = unique_header()
        last = invoke(client, name)
    assert last["env"] == first["env"]  # one warm environment throughout (named by its log stream: pids are per sandbox)
    growth_kb = last["rss_kb"] - first["rss_kb"]
    assert growth_kb < MAX_GROWTH_KB, f"RSS grew {growth_kb} kB over {INVOCATIONS} invocations"

    # The variable is still there for the function's code, C libraries and child processes alike.
    trace["header"] = unique_header()
    seen = invoke(client, name, {"check": True})
    root = trace["header"].split(";")[0]
    assert seen["python"].startswith(root + ";") and seen["python"].endswith(";Lineage=" + seen["python"][-10:])
    assert seen["c"] == seen["python"] == seen["child"]
    trace["header"] = "Root=1-5f000000-000000000000000000000001;Sampled=0"  # shorter: no trace of the last one
    seen = invoke(client, name, {"check": True})
    assert seen["c"] == seen["python"] == seen["child"]
    assert seen["python"].startswith("Root=1-5f000000-000000000000000000000001;Sampled=0;Lineage=")


def test_environment_recycled_after_max_invocations(tmp_path: Any) -> None:
    server = LambdaliteProcess(tmp_path / "data", env={"LAMBDALITE_ENV_MAX_INVOCATIONS": "3"}).start()
    try:
        client = server.client("lambda")
        create(client, "recycled", REPORTER)
        envs = [invoke(client, "recycled")["env"] for _ in range(7)]
        assert envs[0] == envs[1] == envs[2]
        assert envs[3] == envs[4] == envs[5] != envs[0]
        assert envs[6] not in (envs[0], envs[3])
    finally:
        server.kill()


def test_environment_recycled_when_its_rss_passes_the_bound(tmp_path: Any) -> None:
    env = {"LAMBDALITE_ENV_RECYCLE_RSS_PERCENT": "50"}
    server = LambdaliteProcess(tmp_path / "data", env=env).start()
    try:
        client = server.client("lambda")
        create(client, "grows", REPORTER, MemorySize=128)
        first = invoke(client, "grows")
        assert invoke(client, "grows")["env"] == first["env"]  # small: stays warm
        grown = invoke(client, "grows", {"ballast_mb": 80})  # past 64 MB after this invocation, under 128
        assert grown["env"] == first["env"]
        fresh = invoke(client, "grows")
        assert fresh["env"] != first["env"]
        assert fresh["rss_kb"] < 64 * 1024
    finally:
        server.kill()
