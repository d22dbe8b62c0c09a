"""A built wheel is a working lambdalite: `pip install` it and its `lambdalite` command serves, with the
runtime bootstraps packaged (a function runs) and the licence in its metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.e2e.test_lambda_helpers import create
from tests.support.server import CREDENTIALS, HEALTH_PATH, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed (without dependencies: the venv has them) in a folder."""
    folder = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder / "dist"),
                            str(ROOT)], capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        pytest.fail(f"pip wheel failed: {built.stderr[-2000:]}")
    (wheel,) = (folder / "dist").glob("lambdalite-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith("licenses/LICENSE") for n in names)
    target = folder / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return target


@pytest.fixture(scope="module")
def endpoint(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    work = tmp_path_factory.mktemp("wheel-run")
    env = {**os.environ, "PYTHONPATH": str(installed), "LAMBDALITE_LOG_LEVEL": "info"}
    log = open(work / "serve.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([str(installed / "bin" / "lambdalite"), "serve", "--port", str(port), "--data-dir",
                             str(work / "data")], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (work / "serve.log").read_text()
        try:
            import urllib.request

            with urllib.request.urlopen(url + HEALTH_PATH, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    try:
        wait_until(up, timeout_s=30, what="the wheel's lambdalite to serve")
        yield url
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)
        log.close()


def test_the_installed_command_serves_and_runs_a_function(installed: Path, endpoint: str) -> None:
    lam = boto3.client("lambda", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}), **CREDENTIALS)
    create(lam, "from-wheel")
    answer = lam.invoke(FunctionName="from-wheel", Payload=b'{"k": 1}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"k": 1}
    probe = subprocess.run([sys.executable, "-c", "import lambdalite; print(lambdalite.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(installed)}, cwd=installed.parent,
                           capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(installed))  # the wheel's copy ran, not the checkout's
