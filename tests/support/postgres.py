"""A private PostgreSQL for the tests: `initdb` + `pg_ctl` in a temp folder on a free port, once per test
session (per xdist worker), and a fresh database per test copied from a migrated template.

Nothing here uses a system cluster: the server is this session's own, stopped at exit. initdb refuses to
run as root, so as root the cluster belongs to the unprivileged `postgres` user (Debian's package makes it).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.support.server import free_port

USER = "lambdalite"
_TEMPLATE = "lambdalite_template"


def bin_dir() -> Path | None:
    """Where PostgreSQL's server programs are (Debian: /usr/lib/postgresql/<ver>/bin), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


def available() -> bool:
    return bin_dir() is not None


class PrivateServer:
    """One PostgreSQL cluster in a temp folder, reachable on 127.0.0.1:`port` with trust authentication."""

    def __init__(self, *, fsync: bool = False) -> None:
        """`fsync=False` (tests): commits still wait for the WAL write, not for the disk (a crash of
        PostgreSQL loses nothing; one of the machine could)."""
        found = bin_dir()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (initdb not found): run scripts/setup")
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="lambdalite-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._run_as = _unprivileged_user()
        if self._run_as is not None:
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)
        self.root.chmod(0o755)
        self._lock = threading.Lock()
        self._template_ready = False
        durability = "" if fsync else " -c fsync=off -c full_page_writes=off"
        self._options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
                         f" -c shared_buffers=32MB{durability}")

    def _cmd(self, *args: str) -> list[str]:
        if self._run_as is None:
            return list(args)
        return ["runuser", "-u", self._run_as.pw_name, "--", *args]

    def start(self) -> PrivateServer:
        _sweep_orphans()
        (self.root / "owner.pid").write_text(str(os.getpid()))
        subprocess.run(self._cmd(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
                                 "-E", "UTF8", "--no-locale", "--no-instructions"),
                       check=True, capture_output=True)
        self.restart()
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(self._cmd(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"),
                       capture_output=True)

    def restart(self) -> None:
        """Start (again after `stop`: same folder, same port)."""
        subprocess.run(self._cmd(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                                 "-o", self._options, "-w", "start"), check=True, capture_output=True)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        done = subprocess.run([str(self.bin / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h",
                               "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database, "-c", statement],
                              check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def fresh_database(self) -> str:
        """A new, migrated, empty database: its URL."""
        with self._lock:
            if not self._template_ready:
                self._make_template()
                self._template_ready = True
            name = f"t_{uuid.uuid4().hex[:16]}"
            self.sql(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _make_template(self) -> None:
        """A database with every migration applied, copied for each test (faster than migrating each)."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        from lambdalite.store.postgres.migrate import migrate_url

        self.sql(f"CREATE DATABASE {_TEMPLATE}")
        with ThreadPoolExecutor(1) as thread:  # its own event loop, whether or not the caller runs one
            thread.submit(asyncio.run, migrate_url(self.url(_TEMPLATE))).result()


def _sweep_orphans() -> None:
    """Stop and remove private servers whose test session died without stopping them (killed by a timeout)."""
    for root in Path(tempfile.gettempdir()).glob("lambdalite-pg-*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        pg_ctl = bin_dir()
        if pg_ctl is not None and (root / "data" / "postmaster.pid").exists():
            user = _unprivileged_user()
            cmd = [str(pg_ctl / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"]
            subprocess.run(["runuser", "-u", user.pw_name, "--", *cmd] if user else cmd, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("initdb refuses to run as root and there is no 'postgres' user") from None


_server: PrivateServer | None = None
_server_lock = threading.Lock()


def server() -> PrivateServer:
    """This test session's private PostgreSQL, started on first use and destroyed at exit."""
    global _server
    with _server_lock:
        if _server is None:
            started = PrivateServer().start()
            atexit.register(started.destroy)
            _server = started
        return _server


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh, migrated database on this session's server (its URL), dropped afterwards."""
    url = server().fresh_database()
    try:
        yield url
    finally:
        server().drop_database(url)
