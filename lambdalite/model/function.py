"""A function version's configuration: AWS's FunctionConfiguration shape, its defaults and limits.

Configurations are kept as the AWS JSON dict (what every Get/List returns); this module holds the pure
rules for building and reading them, and the translation to the runtime seam (RunSpec).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalite.model.run import RunSpec

RUNTIMES: tuple[str, ...] = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "provided",
    "provided.al2",
    "provided.al2023",
)
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 900
DEFAULT_MEMORY_MB = 128
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
MAX_ENV_BYTES = 4096
MAX_DESCRIPTION = 256
# Function environment variable that picks the python runtime client for one function.
RUNTIME_CLIENT_VAR = "LAMBDALITE_RUNTIME_CLIENT"
RUNTIME_CLIENTS = ("builtin", "awslambdaric")


def lambda_date(epoch_s: float | None = None) -> str:
    """AWS's LastModified string: 2020-04-10T19:06:32.563+0000."""
    now = time.time() if epoch_s is None else epoch_s
    millis = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}+0000"


def sha256_hex(code_sha256_b64: str) -> str:
    """CodeSha256 (base64) -> the hex name of the unpacked code folder."""
    return base64.b64decode(code_sha256_b64).hex()


def runtime_client(config: dict[str, Any], default: str) -> str:
    """The function's LAMBDALITE_RUNTIME_CLIENT variable wins over the server's default."""
    variables = (config.get("Environment") or {}).get("Variables") or {}
    chosen = variables.get(RUNTIME_CLIENT_VAR, default)
    return chosen if chosen in RUNTIME_CLIENTS else default


def to_run_spec(
    config: dict[str, Any], *, version: str, code_root: Path, region: str, default_client: str,
    layer_dirs: tuple[Path, ...] = (),
) -> RunSpec:
    """What an environment needs to run this version (and its warm-pool key)."""
    variables = (config.get("Environment") or {}).get("Variables") or {}
    return RunSpec(
        function_name=config["FunctionName"],
        function_arn=unqualified(config["FunctionArn"]),
        version=version,
        runtime=config["Runtime"],
        handler=config.get("Handler", ""),
        code_dir=code_root / sha256_hex(config["CodeSha256"]),
        code_sha256=config["CodeSha256"],
        timeout_s=float(config.get("Timeout", DEFAULT_TIMEOUT_S)),
        memory_mb=int(config.get("MemorySize", DEFAULT_MEMORY_MB)),
        environment=tuple(sorted((str(k), str(v)) for k, v in variables.items())),
        region=region,
        revision_id=config.get("RevisionId", ""),
        runtime_client=runtime_client(config, default_client),
        role=str(config.get("Role", "")),
        ephemeral_mb=int((config.get("EphemeralStorage") or {}).get("Size", 512)),
        layer_dirs=layer_dirs,
    )


def unqualified(arn: str) -> str:
    """Strip a qualifier from a function ARN (arn:aws:lambda:R:A:function:NAME[:Q])."""
    parts = arn.split(":")
    return ":".join(parts[:7])


def dead_letter_arn(config: dict[str, Any]) -> str | None:
    target = (config.get("DeadLetterConfig") or {}).get("TargetArn")
    return str(target) if target else None


@dataclass(frozen=True, slots=True)
class FunctionRow:
    name: str
    config: dict[str, Any]  # $LATEST
    reserved_concurrency: int | None
    recursion: str
    next_version: int


@dataclass(frozen=True, slots=True)
class FunctionTarget:
    """One lookup of function + qualifier, read in one snapshot (the Invoke hot path)."""

    function: FunctionRow
    config: dict[str, Any]  # the version the qualifier names (alias resolved)
    executed_version: str
    alias: dict[str, Any] | None
