"""Start a real lambdalite process on a free port and talk to it with real clients."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

HEALTH_PATH = "/_lambdalite/health"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
# The one host folder test servers let sandboxed functions write to (LAMBDALITE_SANDBOX_SHARED_DIRS): their
# data folders and the tests' own tmp_path stay out of the functions' sight.
SHARED_DIR = Path(tempfile.gettempdir()) / "lambdalite-tests-shared"


def _make_shared_dir() -> None:
    SHARED_DIR.mkdir(exist_ok=True)
    SHARED_DIR.chmod(0o1777)


def shared_file(path: Path) -> str:
    """A file sandboxed functions can append to, readable by the test at `path` (a symlink to it)."""
    _make_shared_dir()
    target = SHARED_DIR / f"{uuid.uuid4().hex}-{path.name}"
    target.touch()
    target.chmod(0o666)  # functions run as their own uid
    path.symlink_to(target)
    return str(target)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.05, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or condition}")
        time.sleep(interval_s)


class LambdaliteProcess:
    """One `lambdalite serve` (or `worker`) subprocess on a data folder."""

    def __init__(self, data_dir: Path, *, role: str = "serve", port: int | None = None,
                 env: dict[str, str] | None = None, args: list[str] | None = None, store: str | None = None):
        """`store`: a postgresql:// URL to run on (tests/support/postgres.py makes one), else SQLite."""
        self.data_dir = data_dir
        self.role = role
        self.port = port or free_port()
        self.env = {"LAMBDA_RETRY_BASE_DELAY": "1", "LAMBDALITE_LOG_LEVEL": "info",
                    "LAMBDALITE_SANDBOX_SHARED_DIRS": str(SHARED_DIR), **(env or {})}
        self.args = args or []
        if store is not None:
            self.env["LAMBDALITE_STORE"] = store
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-{role}-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> LambdaliteProcess:
        _make_shared_dir()
        cmd = [sys.executable, "-m", "lambdalite", self.role, "--data-dir", str(self.data_dir)]
        if self.role == "serve":
            cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        cmd += self.args
        env = {**os.environ, **self.env}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait and self.role == "serve":
            wait_until(self.healthy, timeout_s=30, what=f"lambdalite on {self.port} (log {self.log_path})")
        return self

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"lambdalite exited with {self.proc.returncode}: {self.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.endpoint + HEALTH_PATH, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process tree (server and its function environments)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def kill_server_only(self) -> None:
        """SIGKILL just the lambdalite process (its children may outlive it, as after a crash)."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self.proc = None

    def restart(self) -> LambdaliteProcess:
        self.stop()
        return self.start()

    def client(self, service: str, **config: Any) -> Any:
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, connect_timeout=5,
                     **config)
        return boto3.client(service, endpoint_url=self.endpoint, config=cfg, **CREDENTIALS)

    def cli_env(self) -> dict[str, str]:
        """Environment for the AWS CLI (v1 or v2) pointed at this server."""
        return {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_ENDPOINT_URL": self.endpoint}


def module_server(label: str, **kwargs: Any) -> Any:
    """A module-scoped fixture: one server (kwargs as for LambdaliteProcess) shared by a test module.

    Assign it to the fixture's name in the module: `server = module_server("sqs-queues", env=ENV)`.
    """

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaliteProcess]:
        proc = LambdaliteProcess(tmp_path_factory.mktemp(label) / "data", **kwargs).start()
        try:
            yield proc
        finally:
            proc.kill()

    return fixture


def module_client(service: str, server: str = "server") -> Any:
    """A module-scoped fixture: a boto3 client for `service` on the module's server fixture `server`."""

    @pytest.fixture(scope="module")
    def fixture(request: pytest.FixtureRequest) -> Any:
        return request.getfixturevalue(server).client(service)

    return fixture
