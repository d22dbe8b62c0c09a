"""Every setting lambdalite reads, in one place.

Each setting has a command-line flag (see cli.py) and an environment variable; the flag wins.
`LAMBDA_RETRY_BASE_DELAY` keeps that exact name because tests and tools of the Lambda ecosystem use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"env": "LAMBDALITE_HOST"})
    port: int = field(default=4566, metadata={"env": "LAMBDALITE_PORT"})
    data_dir: Path = field(default=Path(".lambdalite"), metadata={"env": "LAMBDALITE_DATA_DIR"})
    # Where state lives: "" (the default) is SQLite in the data folder; postgresql://USER:PASS@HOST:PORT/DB
    # shares one PostgreSQL database between any number of nodes (the data folder then only caches code).
    store: str = field(default="", repr=False, metadata={"env": "LAMBDALITE_STORE"})
    account_id: str = field(default=ACCOUNT_ID, metadata={"env": "LAMBDALITE_ACCOUNT_ID"})
    default_region: str = field(default=DEFAULT_REGION, metadata={"env": "LAMBDALITE_DEFAULT_REGION"})
    # Function-error retries wait 1x then 2x this (AWS: about one and two minutes).
    retry_base_delay_s: float = field(default=60.0, metadata={"env": "LAMBDA_RETRY_BASE_DELAY"})
    # Account-wide concurrent executions (AWS's default quota is 1000).
    account_concurrency: int = field(default=1000, metadata={"env": "LAMBDALITE_ACCOUNT_CONCURRENCY"})
    # Warm environments idle longer than this are stopped.
    idle_env_timeout_s: float = field(default=300.0, metadata={"env": "LAMBDALITE_IDLE_ENV_TIMEOUT"})
    # Runtime client for python runtimes: "builtin" (lambdalite's bootstrap) or "awslambdaric".
    python_runtime_client: str = field(default="builtin", metadata={"env": "LAMBDALITE_PYTHON_RUNTIME_CLIENT"})
    # How long a dispatcher holds an event before another may take it, unless renewed.
    lease_s: float = field(default=15.0, metadata={"env": "LAMBDALITE_LEASE_SECONDS"})
    # Whether this process runs the dispatcher (serve --no-dispatch turns it off).
    dispatch: bool = field(default=True, metadata={"env": "LAMBDALITE_DISPATCH"})
    # Whether this process serves the HTTP API (the `worker` role does not).
    serve_api: bool = True
    # A `worker` serves /metrics (and health) on this port when set (0: off); `serve` has them on its API port.
    metrics_port: int = field(default=0, metadata={"env": "LAMBDALITE_METRICS_PORT"})
    # Throttle/system-error backoff: first delay and cap (AWS: 1 s doubling to 5 min).
    throttle_base_delay_s: float = field(default=1.0, metadata={"env": "LAMBDALITE_THROTTLE_BASE_DELAY"})
    throttle_max_delay_s: float = field(default=300.0, metadata={"env": "LAMBDALITE_THROTTLE_MAX_DELAY"})
    log_level: str = field(default="warning", metadata={"env": "LAMBDALITE_LOG_LEVEL"})
    # Function log files (logs_dir/NAME.log) rotate at this size, keeping this many older files: a function's
    # logs take at most (keep + 1) x max bytes of disk.
    log_max_bytes: int = field(default=64 << 20, metadata={"env": "LAMBDALITE_LOG_MAX_BYTES"})
    log_keep_files: int = field(default=3, metadata={"env": "LAMBDALITE_LOG_KEEP_FILES"})
    # How long ended events' outcomes stay queryable (`outcomes` table) before they are pruned.
    outcome_retention_s: float = field(default=86400.0, metadata={"env": "LAMBDALITE_OUTCOME_RETENTION_SECONDS"})
    # The API's URL as functions should call it (default: http://HOST:PORT of `serve`); set it for
    # `worker`s when the API listens elsewhere.
    endpoint_url: str = field(default="", metadata={"env": "LAMBDALITE_ENDPOINT_URL"})
    # Async events one dispatcher process runs at once (each holds an execution environment).
    dispatch_concurrency: int = field(default=32, metadata={"env": "LAMBDALITE_DISPATCH_CONCURRENCY"})
    # Destination / DLQ deliveries: attempts before giving up (counted and logged), first retry delay (doubles).
    delivery_attempts: int = field(default=4, metadata={"env": "LAMBDALITE_DELIVERY_ATTEMPTS"})
    delivery_retry_base_delay_s: float = field(default=1.0, metadata={"env": "LAMBDALITE_DELIVERY_RETRY_BASE_DELAY"})
    # SNS delivery retries wait AWS's delays (immediate, 1 s, backoff to 20 s; http: the delivery policy)
    # times this factor: tests shorten them without skipping any attempt.
    sns_retry_scale: float = field(default=1.0, metadata={"env": "LAMBDALITE_SNS_RETRY_SCALE"})
    # Test aid: the delivery loop starts this long after the process (opens the window between an event's
    # end and its delivery, e.g. to kill the server there). 0 in production.
    delivery_start_delay_s: float = field(default=0.0, metadata={"env": "LAMBDALITE_DELIVERY_START_DELAY"})
    # SigV4 authentication: configuring any access key turns checking on (credentials.py has the formats).
    # A file of `ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]` lines, and/or "AKID:SECRET[:ACCOUNT],...".
    credentials_file: str = field(default="", metadata={"env": "LAMBDALITE_CREDENTIALS_FILE"})
    credentials: str = field(default="", repr=False, metadata={"env": "LAMBDALITE_CREDENTIALS"})
    # What functions may call on lambdalite's API (services/function_access.py): "data" (invoke, SQS
    # messages, PutEvents; the control plane is AccessDenied) or "all" (functions that deploy functions).
    function_api: str = field(default="data", metadata={"env": "LAMBDALITE_FUNCTION_API"})
    # The operator console at /console (`serve --no-console` turns it off); read-only unless this token (or
    # the API's credentials, as AKID:SECRET) is configured and the user signs in with it. Live charts update
    # every console_stream_interval_s.
    console: bool = field(default=True, metadata={"env": "LAMBDALITE_CONSOLE"})
    console_token: str = field(default="", repr=False, metadata={"env": "LAMBDALITE_CONSOLE_TOKEN"})
    console_stream_interval_s: float = field(default=1.0, metadata={"env": "LAMBDALITE_CONSOLE_STREAM_INTERVAL"})
    # `serve` refuses a non-loopback address without credentials unless this is set.
    insecure: bool = field(default=False, metadata={"env": "LAMBDALITE_INSECURE"})

    # Recycling of warm environments, a safety net for functions that leak: an environment is stopped
    # instead of reused once it has served env_max_invocations invocations, or once its RSS after an
    # invocation exceeds env_recycle_rss_percent of its MemorySize (checked after every invocation: one
    # read of /proc/PID/statm). 0 turns either off (the default: AWS keeps warm environments as they are).
    env_max_invocations: int = field(default=0, metadata={"env": "LAMBDALITE_ENV_MAX_INVOCATIONS"})
    env_recycle_rss_percent: float = field(default=0.0, metadata={"env": "LAMBDALITE_ENV_RECYCLE_RSS_PERCENT"})
    # HTTP API limits against slow or greedy clients (services/httpserver.py). A request's headers must all
    # arrive within http_header_timeout_s of its first byte and its body within http_body_timeout_s of the
    # headers' end (bytes trickling in do not extend either; the connection gets a 408 and is closed). A
    # keep-alive connection idle for http_idle_timeout_s is closed. Connections past http_max_connections
    # get a 503 ServiceUnavailableException and are closed (keep it below the process's open-file limit).
    http_header_timeout_s: float = field(default=30.0, metadata={"env": "LAMBDALITE_HTTP_HEADER_TIMEOUT"})
    http_body_timeout_s: float = field(default=300.0, metadata={"env": "LAMBDALITE_HTTP_BODY_TIMEOUT"})
    http_idle_timeout_s: float = field(default=75.0, metadata={"env": "LAMBDALITE_HTTP_IDLE_TIMEOUT"})
    http_max_connections: int = field(default=1000, metadata={"env": "LAMBDALITE_HTTP_MAX_CONNECTIONS"})
    # Execution environments in a bubblewrap sandbox (runtime/sandbox.py): "require" (refuse to run
    # functions without it), "auto" (use it when bwrap works, else warn once and run unsandboxed), "off".
    sandbox: str = field(default="auto", metadata={"env": "LAMBDALITE_SANDBOX"})
    # Host folders (os.pathsep-separated) every sandbox sees read-write at the same path, as an EFS mount
    # would be (benchmarks use one for their sink file). Never one that holds the data folder or is in it.
    sandbox_shared_dirs: str = field(default="", metadata={"env": "LAMBDALITE_SANDBOX_SHARED_DIRS"})
    # Below this much free space (MiB) on the data folder's file system, new accepts (async invokes, SQS
    # sends, PutEvents) get a retryable throttling error while the backlog drains (services/disk_floor.py).
    min_free_disk_mb: float = field(default=64.0, metadata={"env": "LAMBDALITE_MIN_FREE_DISK_MB"})
    # Scheduled rules (EventBridge ScheduleExpression): rate periods and the 60 s late-tick grace are
    # multiplied by this (tests: 0.02 makes rate(1 minute) tick every 1.2 s). Cron ticks stay on wall-clock minutes.
    schedule_scale: float = field(default=1.0, metadata={"env": "LAMBDALITE_SCHEDULE_SCALE"})

    @property
    def function_endpoint_url(self) -> str:
        """Where functions' AWS SDKs send their calls: this server's API (AWS_ENDPOINT_URL)."""
        if self.endpoint_url:
            return self.endpoint_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def code_dir(self) -> Path:
        return self.data_dir / "code"

    @property
    def layers_dir(self) -> Path:
        """Layer archives, stored as function code is (store/code.py layout)."""
        return self.data_dir / "layers"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply non-None overrides (from command-line flags)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _parse(kind: Any, raw: str) -> Any:
    if kind in (bool, "bool"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (Path, "Path"):
        return Path(raw)
    return raw


def from_env(environ: dict[str, str] | None = None) -> Settings:
    """Settings from the environment (defaults where unset)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        name = f.metadata.get("env")
        if name and name in env and env[name] != "":
            values[f.name] = _parse(f.type, env[name])
    return Settings(**values)
