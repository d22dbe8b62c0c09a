"""Functions attack the server and each other from inside their sandbox (issue 14, finding 2), through a
real server and boto3; every attack here succeeds when functions run unsandboxed."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lambdalite.model.function import sha256_hex
from lambdalite.runtime import sandbox
from tests.e2e.runtime_support import environment_pids
from tests.e2e.test_lambda_helpers import create
from tests.support.server import LambdaliteProcess, module_server, wait_until

pytestmark = pytest.mark.skipif(sandbox.probe().bwrap is None,
                                reason=f"no sandbox here: {sandbox.probe().problem}")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="per-environment uids need lambdalite to run as root")

PROBE = """
import os, sys, traceback

def handler(event, context):
    out = {"uid": os.getuid(), "cwd": os.getcwd(), "task_root": os.environ["LAMBDA_TASK_ROOT"],
           "stream": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
           "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
    for name, path in event.get("read", {}).items():
        try:
            with open(path, "rb") as f:
                out[name] = f.read(64).hex()
        except OSError as e:
            out[name] = type(e).__name__
    for name, path in event.get("write", {}).items():
        try:
            with open(path, "a") as f:
                f.write("changed")
            out[name] = "written"
        except OSError as e:
            out[name] = type(e).__name__
    for name, path in event.get("exists", {}).items():
        out[name] = os.path.exists(path)
    environments = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environments.append(f.read().decode(errors="replace"))
        except OSError:
            pass
    out["environ_dump"] = "\\n".join(environments)
    try:
        raise ValueError("where am I")
    except ValueError:
        out["trace"] = traceback.format_exc()
    return out
"""

KILLER = """
import os, signal

def handler(event, context):
    tried = {}
    # Its parent, the PID namespace's init, and the server by the host pid the test gives away (never a
    # scan of /proc for "lambdalite": unsandboxed, that would kill every lambdalite on the machine).
    targets = {"parent": os.getppid(), "init": 1, "server": event["server_pid"]}
    for name, pid in targets.items():
        try:
            os.kill(pid, signal.SIGKILL)
            tried[name] = "killed"
        except OSError as e:
            tried[name] = type(e).__name__
    return tried
"""

HIJACKER = """
import json, socket

def listening(port):
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == wanted and line.split()[3] == "0A" for line in f.readlines()[1:])

def handler(event, context):
    port = event["victim_port"]
    found = listening(port)
    try:
        victim = socket.create_connection(("127.0.0.1", port), timeout=5)
        victim.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    except OSError as e:
        return {"found": found, "answer": type(e).__name__}
    with socket.create_connection(("127.0.0.1", event["ready_port"]), timeout=5) as ready:
        ready.sendall(b"ready")  # the test now invokes the victim
    victim.settimeout(10)
    try:
        answer = victim.recv(65536)
    except OSError as e:
        return {"found": found, "answer": type(e).__name__}
    head = answer.decode(errors="replace")
    request_id = next((line.split(":", 1)[1].strip() for line in head.split("\\r\\n")
                       if line.lower().startswith("lambda-runtime-aws-request-id")), None)
    if request_id:
        body = b'{"hijacked": true}'
        victim.sendall(b"POST /2018-06-01/runtime/invocation/" + request_id.encode() + b"/response HTTP/1.1\\r\\n"
                       b"Host: x\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
        victim.recv(65536)
    return {"found": found, "answer": head.split("\\r\\n")[0], "stole": request_id is not None}
"""

FORKER = """
import os, socket, time

def handler(event, context):
    if os.fork() == 0:
        os.setsid()  # out of the runtime's process group and session
        if os.fork() == 0:  # and reparented away from the runtime
            held = socket.create_connection(("127.0.0.1", event["port"]))
            held.sendall(b"child")
            while True:
                time.sleep(1)
        os._exit(0)
    os.wait()
    return "forked"
"""

HOG = """
import os

def handler(event, context):
    child = os.fork()
    if child == 0:
        hoard = []
        for _ in range(64):  # 1 GiB, 16 MiB at a time
            hoard.append(b"x" * (16 << 20))
        os._exit(0)
    _, status = os.waitpid(child, 0)
    return {"child_status": status}
"""

SECRET = "s3cr3t-" + base64.b32encode(os.urandom(10)).decode()

server = module_server("sandbox")


@pytest.fixture(scope="module")
def lam(server: LambdaliteProcess) -> Any:
    client = server.client("lambda")
    create(client, "sbx-probe", source=PROBE)
    create(client, "sbx-victim", source=f"SECRET = {SECRET!r}\n" + PROBE, Environment={"Variables": {"TOKEN": SECRET}})
    # whose code an attacker tries to change (code folders are content-addressed: its code differs)
    create(client, "sbx-target", source=f"TARGET = {SECRET!r}\n" + PROBE)
    return client


def invoke(lam: Any, name: str, event: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return response, json.loads(response["Payload"].read())


def code_folder(server: LambdaliteProcess, lam: Any, name: str) -> str:
    sha = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    return str(server.data_dir / "code" / sha256_hex(sha))


def runtime_port(lam: Any, name: str) -> int:
    """The Runtime API port of a function's warm environment, read from its processes on the host."""
    _, out = invoke(lam, name, {})
    for pid in environment_pids(out["stream"]):
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"AWS_LAMBDA_RUNTIME_API="):
                    return int(item.split(b":")[-1])
    raise AssertionError(f"no warm environment of {name}")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.settimeout(30)
        yield sock


def test_code_at_var_task_read_only_as_an_unprivileged_user(lam: Any) -> None:
    _, out = invoke(lam, "sbx-probe", {"write": {"code": "/var/task/handler.py"}})
    assert out["cwd"] == out["task_root"] == "/var/task"
    assert 'File "/var/task/handler.py"' in out["trace"]
    assert out["code"] in ("OSError", "PermissionError")  # a read-only file system
    if os.geteuid() == 0:
        assert out["uid"] >= sandbox.UID_BASE


def test_cannot_read_the_database_or_other_functions_code(server: LambdaliteProcess, lam: Any) -> None:
    victim_code = code_folder(server, lam, "sbx-target")
    _, out = invoke(lam, "sbx-probe", {
        "read": {"db": str(server.data_dir / "lambdalite.db"), "victim_code": victim_code + "/handler.py"},
        "write": {"victim_write": victim_code + "/handler.py"},
        "exists": {"data_dir": str(server.data_dir), "victim_dir": victim_code}})
    assert out["db"] == "FileNotFoundError" and out["data_dir"] is False
    assert out["victim_code"] == "FileNotFoundError" and out["victim_dir"] is False
    assert out["victim_write"] in ("FileNotFoundError", "OSError", "PermissionError")


def test_cannot_see_other_processes_or_their_environment(lam: Any) -> None:
    invoke(lam, "sbx-victim", {})  # a warm victim environment holding TOKEN
    _, out = invoke(lam, "sbx-probe", {})
    assert SECRET not in out["environ_dump"]
    assert len(out["pids"]) <= 3, out["pids"]  # its own PID namespace: bwrap's init, the runtime, maybe a child


def test_private_tmp(lam: Any) -> None:
    marker = f"/tmp/sbx-{SECRET}"
    _, written = invoke(lam, "sbx-victim", {"write": {"tmp": marker}})
    assert written.get("tmp") == "written", written
    _, out = invoke(lam, "sbx-probe", {"exists": {"tmp": marker}})
    assert out["tmp"] is False
    assert not os.path.exists(marker)  # nor on the host


def test_cannot_kill_the_server(tmp_path_factory: pytest.TempPathFactory) -> None:
    proc = LambdaliteProcess(tmp_path_factory.mktemp("sbx-kill") / "data").start()
    try:
        lam = proc.client("lambda")
        create(lam, "sbx-killer", source=KILLER)
        create(lam, "sbx-echo")
        assert proc.proc is not None
        _, tried = invoke(lam, "sbx-killer", {"server_pid": proc.proc.pid})
        assert tried["parent"] != "killed" and tried["init"] != "killed"
        assert all(outcome != "killed" for outcome in tried.values()), tried
        assert proc.healthy()
        _, echoed = invoke(lam, "sbx-echo", {"still": "here"})
        assert echoed == {"still": "here"}
    finally:
        proc.kill()


@needs_root
def test_cannot_take_another_environments_events(lam: Any, listener: socket.socket) -> None:
    create(lam, "sbx-hijacker", source=HIJACKER, Timeout=30)
    create(lam, "sbx-hijack-victim", source=PROBE)
    port = runtime_port(lam, "sbx-hijack-victim")  # warm: its runtime waits in GET next
    attack: dict[str, Any] = {}

    def run_attacker() -> None:
        attack["result"] = invoke(lam, "sbx-hijacker", {"victim_port": port,
                                                        "ready_port": listener.getsockname()[1]})[1]

    attacker = threading.Thread(target=run_attacker)
    attacker.start()
    try:
        conn, _ = listener.accept()  # the attacker connected to the victim's port and asked for an event
        conn.close()
        _, victim = invoke(lam, "sbx-hijack-victim", {"mine": True})
        assert "hijacked" not in victim and victim["task_root"] == "/var/task"
    finally:
        attacker.join(timeout=60)
    result = attack["result"]
    assert result["found"] is True  # the port is plain to see in /proc/net/tcp...
    assert result.get("stole") is not True, result  # ...but it answers only its own environment
    assert result["answer"].startswith("HTTP/1.1 403") or result["answer"] in ("ConnectionResetError", ""), result


def _closed(conn: socket.socket) -> bool:
    conn.settimeout(0.05)
    try:
        return conn.recv(64) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_forked_children_die_with_their_environment(server: LambdaliteProcess, lam: Any,
                                                    listener: socket.socket) -> None:
    create(lam, "sbx-forker", source=FORKER)
    _, out = invoke(lam, "sbx-forker", {"port": listener.getsockname()[1]})
    assert out == "forked"
    child, _ = listener.accept()
    assert child.recv(5) == b"child"
    lam.delete_function(FunctionName="sbx-forker")  # stops its environment
    wait_until(lambda: _closed(child), timeout_s=15, what="the forked child to die with its environment")
    child.close()


def test_forked_children_die_with_a_stopped_server(tmp_path_factory: pytest.TempPathFactory,
                                                   listener: socket.socket) -> None:
    proc = LambdaliteProcess(tmp_path_factory.mktemp("sbx-term") / "data").start()
    try:
        lam = proc.client("lambda")
        create(lam, "sbx-forker", source=FORKER)
        assert invoke(lam, "sbx-forker", {"port": listener.getsockname()[1]})[1] == "forked"
        child, _ = listener.accept()
        assert child.recv(5) == b"child"
        proc.stop()  # SIGTERM
        wait_until(lambda: _closed(child), timeout_s=15, what="the forked child to die with the server")
        child.close()
    finally:
        proc.kill()


def test_memory_limit_covers_children(server: LambdaliteProcess, lam: Any) -> None:
    create(lam, "sbx-hog", source=HOG, MemorySize=128, Timeout=60)
    response, out = invoke(lam, "sbx-hog", {})
    assert response.get("FunctionError") == "Unhandled", out
    assert out["errorType"] == "Runtime.ExitError"
    assert out["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Error Type: Runtime.OutOfMemory" in log


NAMESPACER = """
import os, subprocess, threading

def handler(event, context):
    out = {}
    try:
        os.unshare(os.CLONE_NEWUSER)
        out["unshare"] = "created"
    except OSError as e:
        out["unshare"] = type(e).__name__
    shell = subprocess.run(["unshare", "-Ur", "true"], capture_output=True)
    out["unshare_command"] = shell.returncode
    results = []
    worker = threading.Thread(target=lambda: results.append("thread ran"))
    worker.start()
    worker.join()
    out["thread"] = results
    out["subprocess"] = subprocess.run(["echo", "child ran"], capture_output=True, text=True).stdout.strip()
    return out
"""


def test_no_user_namespaces_but_threads_and_children_work(lam: Any) -> None:
    """A user namespace would make the function root of its own namespace: the door to much of the
    kernel. The sandbox's seccomp filter refuses it; threads and child processes (clone, clone3) work."""
    create(lam, "sbx-namespacer", source=NAMESPACER)
    _, out = invoke(lam, "sbx-namespacer", {})
    assert out["unshare"] == "PermissionError"
    assert out["unshare_command"] != 0
    assert out["thread"] == ["thread ran"] and out["subprocess"] == "child ran"
