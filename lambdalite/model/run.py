"""The seam between callers (sync Invoke, the dispatcher) and execution environments (runtime/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything an environment needs to run one function version; also its warm-pool key."""

    function_name: str
    function_arn: str  # unqualified
    version: str  # "$LATEST" or "1", "2", ...
    runtime: str  # python3.12, provided.al2023, ...
    handler: str
    code_dir: Path  # unpacked code (read-only, content-addressed)
    code_sha256: str
    timeout_s: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...] = ()
    region: str = "us-east-1"
    revision_id: str = ""  # changes with code or configuration: a new revision gets new environments
    runtime_client: str = "builtin"  # python runtimes: "builtin" or "awslambdaric"
    role: str = ""  # execution role ARN: the function's minted credentials are for it (credentials.py)
    ephemeral_mb: int = 512  # EphemeralStorage: the size of the sandbox's private /tmp
    layer_dirs: tuple[Path, ...] = ()  # unpacked layers, in the function's order: merged into /opt

    @property
    def pool_key(self) -> tuple[str, str, str]:
        return (self.function_name, self.version, self.revision_id)


class Status(StrEnum):
    OK = "ok"
    FUNCTION_ERROR = "function_error"  # handler raised, timeout, crash, init failure: retried as such
    SYSTEM_ERROR = "system_error"  # environment could not start or was lost: backoff, no retry consumed


@dataclass(slots=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_arn: str  # the ARN the caller used (qualified when a qualifier was given)
    client_context: str | None = None  # decoded JSON text
    cognito_identity: str | None = None
    trace_id: str | None = None
    tail_log: bool = False


@dataclass(slots=True)
class InvokeResult:
    status: Status
    payload: bytes  # the function's result, or its error object (JSON)
    error_type: str | None = None  # e.g. "Sandbox.Timedout", "Runtime.ExitError", the exception class
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # set on a cold start
    max_memory_mb: int = 0
    log_tail: str = ""  # last 4 KB of this invocation's log, when asked for
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def function_error(self) -> str | None:
        """The X-Amz-Function-Error value ("Unhandled") or None."""
        return "Unhandled" if self.status is Status.FUNCTION_ERROR else None
