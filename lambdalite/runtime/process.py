"""One function process: spawned so it dies with lambdalite, watched for exit and output without threads.

- PR_SET_PDEATHSIG (prctl via ctypes, in the child before exec) kills it when lambdalite dies, even by
  SIGKILL; its own session lets lambdalite kill its whole tree (a shell bootstrap's children too).
- Exit is noticed through a pidfd on the event loop; stdout+stderr share one non-blocking pipe read on
  the loop, which can also be drained synchronously so output precedes the response it came before.
- Memory is read from /proc (RSS for enforcement, VmHWM for "Max Memory Used") of the runtime itself: in a
  sandbox that is bwrap's grandchild (bwrap -> its PID-namespace init -> the runtime), found once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
READ_CHUNK = 65536
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

try:
    _prctl: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _first_child(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            children = f.read().split()
    except OSError:
        return None
    return int(children[0]) if children else None


class FunctionProcess:
    """A running function process; calls on_output(bytes) for its output and on_exit() once it ended."""

    def __init__(self, argv: tuple[str, ...], env: dict[str, str], cwd: Path,
                 on_output: Callable[[bytes], None], on_exit: Callable[[], None], *, wrapper_depth: int = 0,
                 pass_fds: tuple[int, ...] = ()):
        """wrapper_depth: processes between ours and the runtime (a sandbox's bwrap and its init); their
        exit status is the runtime's, with a signal reported as 128 + its number."""
        self._on_output = on_output
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        try:
            # Spawned on the event loop thread: PDEATHSIG follows the thread that forked.
            self.popen = subprocess.Popen(
                argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                start_new_session=True, preexec_fn=_die_with_parent(os.getpid()), close_fds=True,
                pass_fds=pass_fds)
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            raise
        os.close(write_fd)
        self.pid = self.popen.pid
        self._wrapper_depth = wrapper_depth
        self._runtime_pid: int | None = self.pid if wrapper_depth == 0 else None
        self.returncode: int | None = None
        os.set_blocking(read_fd, False)
        self._read_fd: int | None = read_fd
        self._loop.add_reader(read_fd, self._readable)
        self._pidfd: int | None = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._exited)
        self._status_fd: int | None = None  # /proc/PID/status, kept open: read after every invocation

    @property
    def alive(self) -> bool:
        return self.returncode is None

    def _readable(self) -> None:
        self.drain()

    def drain(self) -> None:
        """Read whatever output is in the pipe now (non-blocking)."""
        fd = self._read_fd
        while fd is not None:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_pipe()
                return
            self._on_output(data)
            if len(data) < READ_CHUNK:
                return

    def _close_pipe(self) -> None:
        if self._read_fd is not None:
            self._loop.remove_reader(self._read_fd)
            os.close(self._read_fd)
            self._read_fd = None

    def _exited(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        returncode = self.popen.wait()
        if self._wrapper_depth and 128 < returncode <= 128 + 64:
            returncode = 128 - returncode  # bwrap's 128 + N: the runtime died of signal N
        self.returncode = returncode
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        self.drain()
        self._on_exit()

    def kill(self) -> None:
        """SIGKILL the process and everything it started; exit is reported through on_exit."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Forget the fds (after exit, or when the loop is going away)."""
        self._close_pipe()
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        if self._pidfd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    @property
    def runtime_pid(self) -> int | None:
        """The runtime's host pid (None while a sandbox is still starting it, or once it is gone)."""
        if self._runtime_pid is None and self.returncode is None:
            pid: int | None = self.pid
            for _ in range(self._wrapper_depth):
                pid = _first_child(pid) if pid is not None else None
            self._runtime_pid = pid
        return self._runtime_pid

    def rss_kb(self) -> int:
        """Resident set size of the runtime now (0 when gone)."""
        pid = self.runtime_pid
        if pid is None:
            return 0
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            return 0

    def peak_kb(self) -> int:
        """Peak resident set size (VmHWM), 0 when gone. One pread on a kept descriptor, not an
        open/read/close per invocation (it was a tenth of the dispatcher's time)."""
        try:
            if self._status_fd is None:
                pid = self.runtime_pid
                if pid is None:
                    return 0
                self._status_fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
            status = os.pread(self._status_fd, 8192, 0)
        except OSError:
            return 0
        start = status.find(b"VmHWM:")
        if start < 0:
            return 0
        end = status.find(b"\n", start)
        return int(status[start + 6:end].split()[0])


def exit_reason(returncode: int) -> str:
    """Go's wording (the AWS Lambda service is written in Go): `exit status 1`, `signal: killed`."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.strsignal(-returncode) or f"signal {-returncode}"
    except ValueError:
        name = f"signal {-returncode}"
    return f"signal: {name.lower()}"
