"""One execution environment: a function process, its Runtime API server and one invocation at a time.

Lifecycle: started by its first invoke (cold; Init Duration = spawn until the runtime's first `GET next`),
then warm until it fails, is stopped as idle, or its revision is replaced. Every way an invocation can
end (response, error, init error, timeout, exit, out of memory, shutdown) resolves the invocation's
future exactly once; `_finish` then writes END/REPORT and builds the InvokeResult.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from lambdalite.credentials import function_environment
from lambdalite.model.run import InvokeRequest, InvokeResult, RunSpec, Status
from lambdalite.runtime import layers, logs, sandbox
from lambdalite.runtime.interpreters import BOOTSTRAP_DIR, PROVIDED_RUNTIMES, Launch, LaunchError, launch_for
from lambdalite.runtime.process import FunctionProcess, exit_reason
from lambdalite.runtime.runtime_api import RuntimeApiConnection, next_response, start_server
from lambdalite.runtime.sandbox import Walls
from lambdalite.settings import Settings

# A function's response may be at most 6 MB; AWS's message quotes this figure (6 MiB + 100 bytes).
MAX_RESPONSE_BYTES = 6291556
RESPONSE_TOO_LARGE = orjson.dumps({
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
    "errorType": "Function.ResponseSizeTooLarge"})
# AWS gives on-demand init 10 s, then retries init inside the invocation under the function timeout.
INIT_TIMEOUT_S = 10.0
# Peak RSS (VmHWM) is read after any invocation that ran PEAK_READ_MIN_S or longer, else at most every
# PEAK_READ_EVERY_S (see Environment._peak_due).
PEAK_READ_MIN_S = 0.005
PEAK_READ_EVERY_S = 0.1


class EnvironmentLost(Exception):
    """The environment died before the invocation reached it: not the function's fault; try a fresh one."""


@dataclass(slots=True)
class Outcome:
    status: Status
    payload: bytes
    error_type: str | None = None
    report_status: str | None = None  # "timeout" / "error" on the REPORT line
    report_error_type: str | None = None
    log_lines: list[bytes] = field(default_factory=list)
    terminal: bool = False  # the environment cannot be reused


@dataclass(slots=True)
class Invocation:
    request: InvokeRequest
    future: asyncio.Future[Outcome]
    started_s: float
    delivered_s: float | None = None
    timer: asyncio.TimerHandle | None = None
    log: list[bytes] | None = None  # this invocation's log, kept when the caller wants its tail


def _function_error(error_type: str, message: str, report_status: str = "error",
                    report_error_type: str | None = None) -> Outcome:
    """A platform-made function error: `{"errorType","errorMessage"}`; the environment is discarded."""
    payload = orjson.dumps({"errorType": error_type, "errorMessage": message})
    return Outcome(Status.FUNCTION_ERROR, payload, error_type, report_status,
                   report_error_type or error_type, terminal=True)


def _trace_id() -> str:
    """An X-Ray trace header for invocations that came without one (not a secret: no urandom call)."""
    return f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x};Parent={random.getrandbits(64):016x};Sampled=0"


def _header_value(text: str) -> str:
    """Header-safe JSON text: raw CR/LF can only be JSON whitespace, so they become spaces."""
    return text.replace("\r", " ").replace("\n", " ")


def process_environment(spec: RunSpec, settings: Settings, runtime_api: str, launch: Launch,
                        opt_dir: Path | None = None, stream: str | None = None) -> dict[str, str]:
    """The variables of contract section 8, over the function's own (which may not override them);
    with layers (`opt_dir`, /opt in a sandbox) their search paths too."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "en_US.UTF-8"}
    # Keys minted for the function's role (credentials.py), never the server's own AWS_* keys.
    env.update(function_environment(spec.role, settings))
    # The function's AWS SDK calls reach this lambdalite (its SQS queues, event buses, functions), as
    # they would reach AWS's endpoints in AWS; a function's own AWS_ENDPOINT_URL wins.
    env["AWS_ENDPOINT_URL"] = settings.function_endpoint_url
    env.update(spec.environment)
    stream = stream or logs.stream_name(spec.version)
    env.update({
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP_DIR),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "TZ": "UTC",
    })
    if spec.runtime.startswith("python"):
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    if opt_dir is not None:
        layers.add_search_paths(env, spec.runtime, str(opt_dir))
    launch.apply(env)  # the runtime's search paths (PYTHONPATH, NODE_PATH) and AWS_EXECUTION_ENV
    return env


class Environment:
    """Runs invocations for one RunSpec, one at a time."""

    def __init__(self, spec: RunSpec, settings: Settings, logbook: logs.LogBook,
                 on_gone: Callable[[Environment], None]):
        self.spec = spec
        self.settings = settings
        self.logbook = logbook
        self.log_stream = logs.stream_name(spec.version)  # this environment's CloudWatch Logs stream
        self._on_gone = on_gone
        self._loop = asyncio.get_running_loop()
        self.process: FunctionProcess | None = None
        self.walls: Walls | None = None
        self._line_open = False  # the last output logged did not end its line
        self._server: asyncio.Server | None = None
        self._waiter: RuntimeApiConnection | None = None
        self._current: Invocation | None = None
        self._spawned_s = 0.0
        self._served = 0  # invocations delivered
        self._init_duration_ms: float | None = None
        self._stop_reason: str | None = None
        self._init_output = b""
        self.peak_kb = 0
        self._peak_read_s = 0.0
        self.limit_kb = spec.memory_mb * 1024
        self.last_used_s = time.monotonic()
        self.gone = False

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def cold_init_ms(self) -> float | None:
        """The init duration, right after the first invocation (for the pool's cold-start estimate)."""
        return self._init_duration_ms if self._served == 1 else None

    @property
    def invocations(self) -> int:
        return self._served

    @property
    def reusable(self) -> bool:
        return not self.gone and self.process is not None and self.process.alive

    # ---- invoke ------------------------------------------------------------------------------------
    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        loop = self._loop
        inv = Invocation(request, loop.create_future(), time.perf_counter(),
                         log=[] if request.tail_log else None)
        self._current = inv
        warm = self.process is not None
        if not warm:
            failure = await self._start()
            if failure is not None:
                self._current = None
                return failure
        if self._waiter is not None:
            self._deliver(self._waiter)
        else:
            inv.timer = loop.call_later(INIT_TIMEOUT_S + self.spec.timeout_s, self._timed_out)
        try:
            outcome = await inv.future
        except asyncio.CancelledError:
            self._current = None
            self.stop("cancelled")
            raise
        finally:
            if inv.timer is not None:
                inv.timer.cancel()
        if outcome is _LOST:
            self._current = None
            raise EnvironmentLost()
        return self._finish(inv, outcome)

    async def _start(self) -> InvokeResult | None:
        spec = self.spec
        try:
            opt_dir = (await asyncio.to_thread(layers.opt_folder, spec.layer_dirs, self.settings.data_dir / "opt")
                       if spec.layer_dirs else None)
            launch = launch_for(spec.runtime, spec.runtime_client, spec.handler, spec.code_dir,
                                spec.function_name, self.settings.data_dir, opt_dir)
        except OSError as e:  # a layer's content is missing from the data folder
            payload = orjson.dumps({"errorType": "Runtime.Unavailable", "errorMessage": f"Layers: {e}"})
            return InvokeResult(Status.SYSTEM_ERROR, payload, "Runtime.Unavailable")
        except LaunchError as e:
            message = f"RequestId: {self._current.request.request_id if self._current else ''} Error: {e.message}"
            return self._result_without_process(_function_error(e.error_type, message))
        support = sandbox.active(self.settings.sandbox)
        if support is None and self.settings.sandbox == "require":
            payload = orjson.dumps({"errorType": "Runtime.Unavailable", "errorMessage":
                                    f"LAMBDALITE_SANDBOX=require, but {sandbox.probe().lost()}"})
            return InvokeResult(Status.SYSTEM_ERROR, payload, "Runtime.Unavailable")
        try:
            uid_for_port = sandbox.uid_for_port if support is not None and support.setpriv else None
            self._server, port = await start_server(self, uid_for_port)
            env = process_environment(spec, self.settings, f"127.0.0.1:{port}", launch, opt_dir, self.log_stream)
            argv, depth = launch.argv, 0
            if support is not None:
                self.walls = Walls(support, port, spec.memory_mb, spec.ephemeral_mb, self.settings.data_dir,
                                   self.settings.sandbox_shared_dirs)
                argv, depth = self.walls.wrap(launch, spec.code_dir, env, opt_dir), 2
            self._spawned_s = time.perf_counter()
            try:
                self.process = FunctionProcess(argv, env, spec.code_dir, self._on_output, self._on_exit,
                                               wrapper_depth=depth,
                                               pass_fds=self.walls.pass_fds if self.walls is not None else ())
            finally:
                if self.walls is not None:
                    self.walls.started()
        except OSError as e:
            self.stop("failed")
            if spec.runtime in PROVIDED_RUNTIMES and e.errno in (errno.ENOENT, errno.ENOEXEC, errno.EACCES):
                # The code's bootstrap cannot be executed (bad shebang, not a binary): the function's fault.
                request_id = self._current.request.request_id if self._current else ""
                reason = f"fork/exec {launch.argv[0]}: {os.strerror(e.errno).lower()}"
                return self._result_without_process(
                    _function_error("Runtime.InvalidEntrypoint", f"RequestId: {request_id} Error: {reason}"))
            payload = orjson.dumps({"errorType": "Runtime.Unavailable",
                                    "errorMessage": f"Could not start the execution environment: {e}"})
            return InvokeResult(Status.SYSTEM_ERROR, payload, "Runtime.Unavailable")
        return None

    def _result_without_process(self, outcome: Outcome) -> InvokeResult:
        inv = self._current
        assert inv is not None
        return self._finish(inv, outcome)

    def _deliver(self, conn: RuntimeApiConnection) -> None:
        inv = self._current
        assert inv is not None and self.process is not None
        self._waiter = None
        now_s = time.perf_counter()
        inv.delivered_s = now_s
        if self._served == 0:
            self._init_duration_ms = (now_s - self._spawned_s) * 1000
        self._served += 1
        if self._served == 1:
            self.process.drain()  # init output belongs before START (later output is drained as it comes)
        request = inv.request
        self._platform(logs.start_line(request.request_id, self.spec.version))
        timeout_s = self.spec.timeout_s
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", request.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int((time.time() + timeout_s) * 1000))),
            ("Lambda-Runtime-Invoked-Function-Arn", request.invoked_arn),
            ("Lambda-Runtime-Trace-Id", request.trace_id or _trace_id()),
        ]
        if request.client_context:
            headers.append(("Lambda-Runtime-Client-Context", _header_value(request.client_context)))
        if request.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", _header_value(request.cognito_identity)))
        conn.send(next_response(request.payload, headers))
        if inv.timer is not None:
            inv.timer.cancel()
        inv.timer = self._loop.call_later(timeout_s, self._timed_out)

    # ---- Runtime API callbacks --------------------------------------------------------------------
    def on_next(self, conn: RuntimeApiConnection) -> None:
        inv = self._current
        if inv is not None and inv.delivered_s is None and not inv.future.done():
            self._deliver(conn)
        else:
            self._waiter = conn

    def on_next_lost(self, conn: RuntimeApiConnection) -> None:
        if self._waiter is conn:
            self._waiter = None

    def on_result(self, request_id: str, body: bytes, error_type: str | None, is_error: bool) -> bool:
        inv = self._current
        if inv is None or inv.delivered_s is None or inv.future.done() or inv.request.request_id != request_id:
            return False
        if self.process is not None:
            self.process.drain()
        if len(body) > MAX_RESPONSE_BYTES:
            inv.future.set_result(Outcome(Status.FUNCTION_ERROR, RESPONSE_TOO_LARGE, "Function.ResponseSizeTooLarge",
                                          "error", "Function.ResponseSizeTooLarge"))
        elif is_error:
            inv.future.set_result(Outcome(Status.FUNCTION_ERROR, body, _error_type(body) or error_type or "Unhandled"))
        else:
            inv.future.set_result(Outcome(Status.OK, body))
        return True

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        if self.process is not None:
            self.process.drain()
        inv = self._current
        if inv is not None and not inv.future.done():
            kind = _error_type(body) or error_type or "Runtime.Unknown"
            inv.future.set_result(Outcome(Status.FUNCTION_ERROR, body, kind, "error", kind, terminal=True))
        self.stop("init error")

    # ---- process events ---------------------------------------------------------------------------
    def _on_output(self, data: bytes) -> None:
        if self._served == 0:
            # the tail of the output before the first event: where a sandbox reports a failed exec
            self._init_output = (self._init_output + data)[-512:]
        self._log(data)

    def _platform(self, line: bytes) -> None:
        """A line of lambdalite's own (START, END, REPORT, errors): always on a line of its own, even after
        function output that did not end its last line (AWS's END never trails a print)."""
        self._log(b"\n" + line if self._line_open else line)

    def _log(self, data: bytes) -> None:
        if data:
            self._line_open = not data.endswith(b"\n")
        self.logbook.write(self.spec.function_name, data, self.log_stream)
        inv = self._current
        if inv is not None and inv.log is not None:
            inv.log.append(data)
            if len(inv.log) > 64:  # bound memory for chatty functions: only the tail is ever returned
                inv.log[:] = [b"".join(inv.log)[-logs.TAIL_BYTES:]]

    def _on_exit(self) -> None:
        process = self.process
        assert process is not None
        inv = self._current
        if inv is not None and not inv.future.done():
            if self.walls is not None and self.walls.oom_killed() and self._stop_reason is None:
                inv.future.set_result(_oom_outcome(inv.request.request_id))  # the kernel's, at the ceiling
            else:
                inv.future.set_result(self._exit_outcome(inv, process.returncode or 0))
        self._teardown()

    def _exit_outcome(self, inv: Invocation, returncode: int) -> Outcome:
        if self._stop_reason is not None:
            payload = orjson.dumps({"errorType": "Runtime.Unavailable",
                                    "errorMessage": f"The execution environment was stopped ({self._stop_reason})"})
            return Outcome(Status.SYSTEM_ERROR, payload, "Runtime.Unavailable", "error", "Runtime.Unavailable",
                           terminal=True)
        if inv.delivered_s is None and self._served > 0:
            return _LOST
        request_id = inv.request.request_id
        failed_exec = self._sandbox_exec_failure() if returncode in sandbox.EXEC_FAILED_STATUSES else None
        if failed_exec is not None:
            return _function_error("Runtime.InvalidEntrypoint", f"RequestId: {request_id} Error: {failed_exec}")
        if returncode == 0:
            message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
        else:
            message = f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}"
        outcome = _function_error("Runtime.ExitError", message)
        outcome.log_lines.append(f"{message}\nRuntime.ExitError\n".encode())
        return outcome

    def _sandbox_exec_failure(self) -> str | None:
        """A provided runtime's bootstrap that the sandbox could not execute, in AWS's words
        (`fork/exec /var/task/bootstrap: no such file or directory`); unsandboxed, Popen raises instead."""
        if self.walls is None or self._served > 0 or self.spec.runtime not in PROVIDED_RUNTIMES:
            return None
        return sandbox.exec_failure(self._init_output)

    def _timed_out(self) -> None:
        inv = self._current
        if inv is None or inv.future.done():
            return
        request_id = inv.request.request_id
        message = f"Task timed out after {self.spec.timeout_s:.2f} seconds"
        outcome = _function_error("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}", "timeout")
        outcome.report_error_type = None
        outcome.log_lines.append(f"{logs.timestamp()} {request_id} {message}\n".encode())
        if self.process is not None:
            self.process.drain()
        inv.future.set_result(outcome)
        self.stop(None)

    def check_memory(self) -> None:
        """Called periodically while busy: kill the environment once it uses more than its MemorySize
        (in a memory cgroup: every process it started, else the runtime process)."""
        if self.process is None or not self.process.alive:
            return
        walls = self.walls
        if walls is not None and walls.has_memory_cgroup:
            rss_kb = walls.tree_rss_kb()
            if walls.oom_killed():
                rss_kb = max(rss_kb, self.limit_kb + 1)
        else:
            rss_kb = self.process.rss_kb()
        if rss_kb > self.peak_kb:
            self.peak_kb = rss_kb
        if rss_kb > self.limit_kb:
            self._out_of_memory()

    def _out_of_memory(self) -> None:
        inv = self._current
        if inv is not None and not inv.future.done():
            if self.process is not None:
                self.process.drain()
            inv.future.set_result(_oom_outcome(inv.request.request_id))
        self.stop(None)

    # ---- completion -------------------------------------------------------------------------------
    def _peak_due(self, now_s: float, inv: Invocation) -> bool:
        """Whether to read the peak RSS now. Generating /proc/PID/status costs more than a whole short
        invocation, so back-to-back short ones share one reading (at most PEAK_READ_EVERY_S old): they
        cannot touch much memory in that time, and the busy-time RSS poll watches the limit anyway."""
        ran_s = now_s - (inv.delivered_s or inv.started_s)
        if ran_s < PEAK_READ_MIN_S and now_s - self._peak_read_s < PEAK_READ_EVERY_S:
            return False
        self._peak_read_s = now_s
        return True

    def _finish(self, inv: Invocation, outcome: Outcome) -> InvokeResult:
        end_s = time.perf_counter()
        request_id = inv.request.request_id
        if self.process is not None and self.process.alive and self._peak_due(end_s, inv):
            peak_kb = self.process.peak_kb()
            if self.walls is not None and self.walls.has_memory_cgroup:
                peak_kb = max(peak_kb, self.walls.tree_rss_kb())
            if peak_kb > self.peak_kb:
                self.peak_kb = peak_kb
            if peak_kb > self.limit_kb and outcome.report_status != "timeout":
                outcome = _oom_outcome(request_id)  # the peak passed the limit between two RSS polls
        if inv.delivered_s is None:
            self._platform(logs.start_line(request_id, self.spec.version))
        for line in outcome.log_lines:
            self._platform(line)
        duration_ms = (end_s - (inv.delivered_s or inv.started_s)) * 1000
        cold = self._served <= 1 and self._init_duration_ms is not None
        init_ms = self._init_duration_ms if cold else None
        max_memory_mb = math.ceil(self.peak_kb / 1024)
        self._platform(logs.end_line(request_id))
        self._platform(logs.report_line(request_id, duration_ms, self.spec.memory_mb, max_memory_mb, init_ms,
                                   outcome.report_status, outcome.report_error_type))
        tail = b"".join(inv.log)[-logs.TAIL_BYTES:].decode("utf-8", "replace") if inv.log is not None else ""
        self._current = None
        self.last_used_s = time.monotonic()
        if outcome.terminal:
            self.stop(None)
        return InvokeResult(outcome.status, outcome.payload, outcome.error_type, duration_ms, init_ms,
                            max_memory_mb, tail)

    # ---- stopping ---------------------------------------------------------------------------------
    def stop(self, reason: str | None) -> None:
        """Kill the process (its whole tree) and stop serving; in-flight work ends as a system error."""
        if self._stop_reason is None and reason is not None:
            self._stop_reason = reason
        self.gone = True
        if self.process is not None and self.process.alive:
            self.process.kill()
            if self.walls is not None:
                self.walls.kill()
        else:
            self._teardown()

    def _teardown(self) -> None:
        self.gone = True
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._waiter is not None:
            self._waiter.close()
            self._waiter = None
        if self.process is not None:
            self.process.close()
        if self.walls is not None:
            self.walls.close(self._loop.call_later)
        self._on_gone(self)


def _oom_outcome(request_id: str) -> Outcome:
    """AWS kills the runtime: the caller sees Runtime.ExitError, the REPORT line says Runtime.OutOfMemory."""
    message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    outcome = _function_error("Runtime.ExitError", message, "error", "Runtime.OutOfMemory")
    outcome.log_lines.append(f"{message}\nRuntime.OutOfMemory\n".encode())
    return outcome


_LOST = Outcome(Status.SYSTEM_ERROR, b"", "Runtime.Unavailable", terminal=True)


def _error_type(body: bytes) -> str | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = data.get("errorType") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def force_kill_all(environments: list[Environment]) -> None:
    """Synchronous last resort (loop closing): SIGKILL every process tree."""
    for env in environments:
        if env.process is not None:
            with contextlib.suppress(Exception):
                env.process.kill()
        if env.walls is not None:
            with contextlib.suppress(Exception):
                env.walls.kill()
