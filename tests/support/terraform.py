"""Run the real Terraform binary with the hashicorp/aws provider from a local filesystem mirror.

No network: a CLI configuration file (TF_CLI_CONFIG_FILE) installs providers only from the mirror that
holds `terraform-provider-aws*`. `provider_block(endpoint)` points every service the tests use at
lambdalite with the skip_* flags a local endpoint needs. `skip_reason()` says why a test cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIRROR_CANDIDATES = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins",
                     Path("/usr/share/terraform/plugins"))
PROVIDER_PATH = Path("registry.terraform.io") / "hashicorp" / "aws"
SERVICES = ("lambda", "sqs", "events", "cloudwatchlogs", "iam", "sts")


def mirror_dir() -> Path | None:
    """The filesystem mirror that holds hashicorp/aws (LAMBDALITE_TF_MIRROR overrides the search)."""
    configured = os.environ.get("LAMBDALITE_TF_MIRROR")
    candidates = [Path(configured)] if configured else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        if (candidate / PROVIDER_PATH).is_dir():
            return candidate
    return None


def skip_reason() -> str | None:
    """Why Terraform tests cannot run here, or None when they can."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if mirror_dir() is None:
        return "no filesystem mirror with registry.terraform.io/hashicorp/aws (set LAMBDALITE_TF_MIRROR)"
    return None


def write_cli_config(path: Path, mirror: Path) -> Path:
    """A CLI configuration that installs every provider from `mirror` and nothing from the network."""
    path.write_text(
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path    = {json.dumps(str(mirror))}\n    include = [\"*/*/*\"]\n  }}\n"
        "  direct {\n    exclude = [\"*/*/*\"]\n  }\n}\n"
    )
    return path


def provider_block(endpoint: str, region: str = "us-east-1") -> str:
    """The `provider "aws"` block that sends every used service to `endpoint` (README's credentials)."""
    endpoints = "\n".join(f"    {service} = {json.dumps(endpoint)}" for service in SERVICES)
    return (
        'provider "aws" {\n'
        f'  region                      = "{region}"\n'
        '  access_key                  = "test"\n'
        '  secret_key                  = "test"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_region_validation      = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def text(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-6000:]}"


@dataclass
class Terraform:
    """Terraform in one working folder, with its own CLI configuration and plugin cache."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 600.0

    @classmethod
    def create(cls, workdir: Path) -> Terraform:
        mirror = mirror_dir()
        if mirror is None:
            raise RuntimeError(skip_reason() or "no provider mirror")
        workdir.mkdir(parents=True, exist_ok=True)
        config = write_cli_config(workdir.parent / f"{workdir.name}.tfrc", mirror)
        env = {"TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
               "TF_INPUT": "0", "AWS_EC2_METADATA_DISABLED": "true"}
        return cls(workdir, env)

    def write(self, name: str, text: str) -> None:
        (self.workdir / name).write_text(text)

    def run(self, *args: str, check: bool = True) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        proc = subprocess.run(["terraform", *args, "-no-color"], cwd=self.workdir, env={**env, **self.env},
                              capture_output=True, text=True, timeout=self.timeout_s, check=False)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed: {result.text()}")
        return result

    def init(self) -> Result:
        return self.run("init", "-input=false")

    def apply(self) -> Result:
        return self.run("apply", "-input=false", "-auto-approve")

    def plan_exitcode(self) -> Result:
        """`plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error."""
        return self.run("plan", "-input=false", "-detailed-exitcode", check=False)

    def destroy(self) -> Result:
        return self.run("destroy", "-input=false", "-auto-approve")

    def outputs(self) -> dict[str, Any]:
        data = json.loads(self.run("output", "-json").stdout)
        return {name: value["value"] for name, value in data.items()}
