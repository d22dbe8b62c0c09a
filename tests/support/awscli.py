"""Run the AWS CLI (v1 from the venv, v2 from Debian's package) against a lambdalite server.

CLI v2 2.9 (Debian 12) predates AWS_ENDPOINT_URL, so the endpoint is always passed as a flag.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

V2_PATH = Path("/usr/bin/aws")


def cli_path(version: int) -> str:
    if version == 1:
        candidate = Path(sys.executable).parent / "aws"
        if candidate.exists():
            return str(candidate)
        found = shutil.which("aws")
        if found is None:
            pytest.skip("AWS CLI v1 is not installed (pip install awscli)")
        return found
    if not V2_PATH.exists():
        pytest.skip("AWS CLI v2 is not installed (scripts/setup installs Debian's awscli)")
    return str(V2_PATH)


def run_cli(version: int, endpoint: str, args: list[str], cwd: Path | None = None,
            check: bool = True, keys: tuple[str, str] = ("test", "test")) -> subprocess.CompletedProcess[str]:
    """`keys`: (access key id, secret access key) the CLI signs with."""
    env = {"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1], "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_PAGER": "", "PATH": "/usr/bin:/bin", "HOME": str(cwd or Path.cwd())}
    cmd = [cli_path(version), "--endpoint-url", endpoint, "--output", "json", *args]
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def cli_json(version: int, endpoint: str, args: list[str], cwd: Path | None = None) -> Any:
    out = run_cli(version, endpoint, args, cwd=cwd).stdout
    return json.loads(out) if out.strip() else None
