"""A private redis-server for the peers: free port, temp dir, either non-persistent or `appendfsync always`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import procs


class RedisServer:
    def __init__(self, durable: bool, log_dir: Path):
        self.durable = durable
        self.port = procs.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        self.log_path = log_dir / f"redis-{'fsync' if durable else 'memory'}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: apt-get install -y redis-server")
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.durable
                       else ["--appendonly", "no"])
        cmd = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
               "--save", "", *persistence, "--daemonize", "no", "--protected-mode", "yes"]
        self.proc = procs.spawn(cmd, log_path=self.log_path)
        procs.wait_for_port(self.port, timeout_s=10, proc=self.proc)
        return self

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        procs.stop(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
