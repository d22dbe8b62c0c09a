"""Drive an in-process EnvironmentPool against real function subprocesses."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import uvloop

from lambdalite.model.run import InvokeRequest, InvokeResult, RunSpec
from lambdalite.runtime import sandbox
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.settings import Settings
from lambdalite.store import open_store

T = TypeVar("T")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:{name}"


def write_code(folder: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.write_text(textwrap.dedent(text).lstrip())
        if name in executable:
            path.chmod(0o755)
    return folder


def make_spec(code_dir: Path, handler: str = "handler.handler", runtime: str = "python3.12", *,
              name: str = "fn", timeout_s: float = 10.0, memory_mb: int = 128, revision_id: str = "r1",
              runtime_client: str = "builtin", environment: dict[str, str] | None = None) -> RunSpec:
    return RunSpec(name, ARN.format(name=name), "$LATEST", runtime, handler, code_dir, "sha256", timeout_s,
                   memory_mb, tuple((environment or {}).items()), "us-east-1", revision_id, runtime_client)


def request(payload: Any = None, **kwargs: Any) -> InvokeRequest:
    body = orjson.dumps(payload if payload is not None else {})
    return InvokeRequest(str(uuid.uuid4()), body, kwargs.pop("invoked_arn", ARN.format(name="fn")), **kwargs)


def run_with_pool(settings: Settings, scenario: Callable[[EnvironmentPool], Awaitable[T]]) -> T:
    """Run scenario(pool) on uvloop (as the server does), always closing the pool."""

    async def main() -> T:
        store = open_store(settings)  # SQLite: the logs are files in the data folder (log_text)
        pool = EnvironmentPool(settings, store)
        try:
            return await scenario(pool)
        finally:
            await pool.close()
            store.close()

    return uvloop.run(main())


def body(result: InvokeResult) -> Any:
    return orjson.loads(result.payload)


def pid_alive(pid: int) -> bool:
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def pid_dead(pid: int) -> bool:
    return not pid_alive(pid)


def task_root(code_dir: Path) -> str:
    """Where a function finds its code: /var/task in the sandbox (the default wherever bwrap works)."""
    return sandbox.TASK_ROOT if sandbox.active("auto") is not None else str(code_dir)


def environment_pids(stream: str) -> list[int]:
    """Host pids of the processes of the environment whose log stream is `stream` (bwrap, its init and the
    runtime share that variable). A function sees only its own PID namespace, so tests name an environment
    by AWS_LAMBDA_LOG_STREAM_NAME (new per environment) rather than by os.getpid()."""
    marker = f"AWS_LAMBDA_LOG_STREAM_NAME={stream}\0".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and pid_alive(int(entry.name)):
            try:
                if marker in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def environment_alive(stream: str) -> bool:
    return bool(environment_pids(stream))


def environment_gone(stream: str) -> bool:
    return not environment_pids(stream)


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **overrides)


def log_text(settings: Settings, name: str = "fn") -> str:
    path = settings.logs_dir / f"{name}.log"
    return path.read_text() if path.exists() else ""


async def flush_logs(pool: EnvironmentPool) -> None:
    await pool.logbook.drain()

