"""The walls around one execution environment: bubblewrap namespaces, an unprivileged uid, cgroups.

- Mount namespace (bwrap): the function sees its code read-only at /var/task, lambdalite's bootstrap at
  /var/runtime, its interpreter, /usr and a few files of /etc, an empty /opt (layers), a private /tmp (a
  tmpfs of EphemeralStorage); never the data folder, other functions' code or the server's files.
- PID namespace (`--unshare-pid --die-with-parent`): no other process is visible in /proc or can be
  signalled; when the runtime exits or bwrap is killed, the kernel kills everything the function started.
- When lambdalite runs as root, the runtime drops to uid UID_BASE + its Runtime API port (setpriv, after
  bwrap built the namespaces as root): unprivileged on the host, distinct per environment on this host, and
  known before spawn, so the Runtime API refuses connections from sockets of any other uid (peers.py).
- A memory cgroup (v1) holds the whole tree: the environment is killed when the tree's anonymous memory
  passes MemorySize (polled) and the kernel enforces a hard ceiling of MemorySize + EphemeralStorage (a
  tmpfs /tmp is charged to the writer; AWS does not count /tmp as memory). A pids cgroup bounds forks.
- The network namespace is shared on purpose: functions reach lambdalite's API (AWS_ENDPOINT_URL) and
  the internet as they do on AWS.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambdalite.runtime.interpreters import BOOTSTRAP_DIR, Launch
from lambdalite.runtime.peers import tcp_socket_uid

log = logging.getLogger("lambdalite.runtime")

MODES = ("require", "auto", "off")
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
VENDOR_DIR = "/var/lambdalite/vendor"
SANDBOX_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"  # AWS's PATH
# High enough to be nobody's account; + a port (< 65536) stays far below 2**32 - 1.
UID_BASE = 0x50000000
# Hard ceiling above MemorySize + EphemeralStorage for bwrap's own processes and page tables.
CGROUP_OVERHEAD_MB = 64
MAX_PROCESSES = 1024  # AWS: 1,024 processes or threads per execution environment
# /etc entries a runtime needs (TLS roots, name resolution, time zone, the loader cache, Debian's command
# alternatives); nothing else. Each bind costs a cold start about 0.2 ms.
ETC_FILES = ("ssl", "pki", "resolv.conf", "hosts", "nsswitch.conf", "localtime", "ld.so.cache", "alternatives",
             "protocols", "services")
CGROUP_RMDIR_ATTEMPTS = 50
EXIT_CLEANUP_S = 2.0  # at process exit, how long to wait for killed environments' cgroups to empty
# How bwrap (exit status 1) and setpriv (126, 127) report a command they could not execute.
EXEC_FAILED_STATUSES = (1, 126, 127)
EXEC_FAILURE = re.compile(rb"(?:setpriv: failed to execute|bwrap: execvp) (\S+): ([^\n]+)\n?$")


@dataclass(frozen=True, slots=True)
class Support:
    """What this machine offers, probed once per process."""

    bwrap: str | None  # None: no sandbox (problem says why)
    setpriv: str | None  # set when running as root: environments get their own uid
    memory_cgroup: Path | None  # our own memory cgroup (v1), writable
    pids_cgroup: Path | None
    problem: str = ""

    def lost(self) -> str:
        """What is missing, in one sentence (empty when everything is there)."""
        if self.bwrap is None:
            return (f"functions run WITHOUT a sandbox ({self.problem}): as lambdalite's user, able to read the "
                    "data folder and other functions' code, see and signal every process, take other "
                    "environments' events through their Runtime API, and fork children that outlive them and "
                    "escape the memory limit")
        missing = []
        if self.setpriv is None:
            missing.append("no setpriv, not root, or no socket-owner lookup (netlink sock_diag): functions keep "
                           "lambdalite's uid and the Runtime API cannot tell environments apart (one environment "
                           "can take another's events)")
        if self.memory_cgroup is None:
            missing.append("no writable memory cgroup (v1): the memory limit watches the runtime process's "
                           "RSS only, not its children")
        return "; ".join(missing)


def _cgroup_dir(controller: str) -> Path | None:
    """This process's own cgroup of a v1 controller, if it is mounted and we may create children in it."""
    try:
        own = next((line.split(":", 2)[2].strip() for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if controller in line.split(":", 2)[1].split(",")), None)
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    if own is None:
        return None
    for line in mountinfo:
        fields, _, tail = line.partition(" - ")
        parts, super_parts = fields.split(), tail.split()
        if len(super_parts) < 3 or super_parts[0] != "cgroup" or controller not in super_parts[2].split(","):
            continue
        relative = os.path.relpath(own, parts[3])
        if relative.startswith(".."):
            continue
        folder = Path(parts[4]) / relative
        probe = folder / f"lambdalite-probe-{os.getpid()}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError:
            return None
        _sweep_stale(folder)
        return folder
    return None


def _sweep_stale(folder: Path) -> None:
    """Remove environment cgroups left by lambdalite processes that were killed (empty once they died)."""
    for child in folder.glob("lambdalite-*-*"):
        pid = child.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                child.rmdir()


# ---- seccomp: no user namespaces inside a sandbox -------------------------------------------------------
# A user namespace makes a function root of a namespace of its own: harmless by itself, but the door to much
# of the kernel's attack surface (mounts, netfilter, ...). Functions never need one; bwrap loads this classic
# BPF program, which answers EPERM to unshare/clone asking for CLONE_NEWUSER, ENOSYS to clone3 (its flags
# sit in memory a filter cannot read; libc then falls back to clone), and EPERM to every call of another ABI
# (x32, i386 compat: their numbers differ; Lambda runs 64-bit code only).
_ARCH = {"x86_64": (0xC000003E, {"clone": 56, "unshare": 272, "clone3": 435}),
         "aarch64": (0xC00000B7, {"clone": 220, "unshare": 97, "clone3": 435})}
CLONE_NEWUSER = 0x10000000
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_X32_SYSCALL_BIT = 0x40000000


def no_user_namespaces(machine: str | None = None) -> bytes | None:
    """The seccomp program (struct sock_filter[]) for this machine's architecture; None when unknown."""
    known = _ARCH.get(machine or os.uname().machine)
    if known is None:
        return None
    arch, nr = known
    allow, enosys, eperm = 10, 11, 12  # indexes of the three return instructions below
    code = [
        (_LD_W_ABS, 0, 0, 4),                      # 0: A = seccomp_data.arch
        (_JEQ, 0, eperm - 2, arch),                # 1: another ABI (i386 compat's own numbers): refused
        (_LD_W_ABS, 0, 0, 0),                      # 2: A = syscall number
        (_JGE, eperm - 4, 0, _X32_SYSCALL_BIT),    # 3: x32 numbers: refused
        (_JEQ, enosys - 5, 0, nr["clone3"]),       # 4
        (_JEQ, 2, 0, nr["unshare"]),               # 5: -> 8
        (_JEQ, 1, 0, nr["clone"]),                 # 6: -> 8
        (_JEQ, allow - 8, allow - 8, 0),           # 7: anything else: allowed
        (_LD_W_ABS, 0, 0, 16),                     # 8: A = low 32 bits of the flags argument
        (_JSET, eperm - 10, allow - 10, CLONE_NEWUSER),  # 9
        (_RET, 0, 0, _RET_ALLOW),                  # 10
        (_RET, 0, 0, _RET_ERRNO | errno.ENOSYS),   # 11
        (_RET, 0, 0, _RET_ERRNO | errno.EPERM),    # 12
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in code)


def is_environment_uid(uid: int | None) -> bool:
    """Whether a uid is one that execution environments run as (uid_for_port's range)."""
    return uid is not None and UID_BASE <= uid <= UID_BASE + 0xFFFF


def environment_peer(local: tuple[str, int], remote: tuple[str, int]) -> bool:
    """Whether the TCP peer of a connection accepted on `local` is a sandboxed function (its socket's uid)."""
    return is_environment_uid(tcp_socket_uid(remote, local))


@functools.cache
def probe() -> Support:
    """Whether bubblewrap works here (one trial run), and what else the sandbox can use."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Support(None, None, None, None, "bwrap is not installed; Debian: apt-get install bubblewrap")
    trial = [bwrap, "--ro-bind", "/", "/", "--proc", "/proc", "--unshare-pid", "--die-with-parent",
             "--new-session", "true"]
    try:
        done = subprocess.run(trial, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return Support(None, None, None, None, f"bwrap does not run: {e}")
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        return Support(None, None, None, None, f"bwrap does not work here: {reason}")
    if os.geteuid() != 0:
        return Support(bwrap, None, None, None)
    setpriv = shutil.which("setpriv") if peer_lookup_works() else None
    return Support(bwrap, setpriv, _cgroup_dir("memory"), _cgroup_dir("pids"))


def peer_lookup_works() -> bool:
    """Whether the kernel tells a loopback socket's owner (netlink sock_diag, peers.py): the Runtime API and
    the API tell environments apart by it. Without it, per-environment uids would lock every runtime out of
    its own Runtime API, so the sandbox runs without them (and says so)."""
    try:
        with socket.create_server(("127.0.0.1", 0)) as server, \
                socket.create_connection(server.getsockname()[:2], timeout=5) as client:
            accepted, _ = server.accept()
            with accepted:
                return tcp_socket_uid(client.getsockname()[:2], client.getpeername()[:2]) == os.geteuid()
    except OSError:
        return False


def check_mode(mode: str) -> str | None:
    """At start: None when everything is fine, else the WARNING line to print; raises SystemExit when
    `require` cannot be met."""
    if mode not in MODES:
        raise SystemExit(f"lambdalite: sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return Support(None, None, None, None, "LAMBDALITE_SANDBOX=off").lost()
    support = probe()
    if mode == "require" and (support.bwrap is None or (os.geteuid() == 0 and support.setpriv is None)):
        raise SystemExit(f"lambdalite: LAMBDALITE_SANDBOX=require, but {support.lost()}")
    if support.bwrap is None:
        return support.lost() + " (LAMBDALITE_SANDBOX=require refuses to start like this)"
    return support.lost() or None


def active(mode: str) -> Support | None:
    """The support to sandbox with under this mode, or None (unsandboxed)."""
    if mode == "off":
        return None
    support = probe()
    return support if support.bwrap is not None else None


def exec_failure(output: bytes) -> str | None:
    """`fork/exec PATH: reason` when output ends with the sandbox's report of a failed exec."""
    match = EXEC_FAILURE.search(output)
    if match is None:
        return None
    return f"fork/exec {match[1].decode(errors='replace')}: {match[2].decode(errors='replace').lower()}"


def uid_for_port(port: int) -> int:
    """The uid of the environment whose Runtime API listens on port (unique while that port is bound)."""
    return UID_BASE + port


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _opt_inside(path: str, opt_dir: Path | None) -> str:
    """A host path in the layers' merged folder as the sandbox sees it (under /opt)."""
    if opt_dir is None or not _under(path, str(opt_dir)):
        return path
    return "/opt" + path[len(str(opt_dir)):]


class Walls:
    """One environment's sandbox: the wrapped command, its uid and its cgroups."""

    def __init__(self, support: Support, port: int, memory_mb: int, ephemeral_mb: int, data_dir: Path,
                 shared_dirs: str = ""):
        self.support = support
        self.uid: int | None = uid_for_port(port) if support.setpriv is not None else None
        self.ephemeral_mb = ephemeral_mb
        self._data_dir = str(data_dir.resolve())
        self._shared = [folder for folder in shared_dirs.split(os.pathsep) if folder]
        self._name = f"lambdalite-{os.getpid()}-{port}"
        self._memory: Path | None = None
        self._pids: Path | None = None
        self._stat_fd: int | None = None
        self._made: set[str] = set()  # folders that exist in the sandbox
        self._bound: set[str] = set()  # mount points whose whole subtree is already visible
        self._args: list[str] = []
        self.pass_fds: tuple[int, ...] = ()  # fds the spawned sandbox must inherit (its seccomp program)
        if support.memory_cgroup is not None:
            ceiling_mb = memory_mb + ephemeral_mb + CGROUP_OVERHEAD_MB
            self._memory = self._make_cgroup(support.memory_cgroup,
                                             {"memory.limit_in_bytes": str(ceiling_mb << 20)})
        if support.pids_cgroup is not None:
            self._pids = self._make_cgroup(support.pids_cgroup, {"pids.max": str(MAX_PROCESSES)})

    def _make_cgroup(self, parent: Path, limits: dict[str, str]) -> Path | None:
        folder = parent / self._name
        try:
            folder.mkdir(exist_ok=True)
            for name, value in limits.items():
                (folder / name).write_text(value)
        except OSError as e:
            log.warning("cgroup %s: %s", folder, e)
            with contextlib.suppress(OSError):
                folder.rmdir()
            return None
        return folder

    # ---- the command ------------------------------------------------------------------------------
    def wrap(self, launch: Launch, code_dir: Path, env: dict[str, str], opt_dir: Path | None = None) -> tuple[str, ...]:
        """bwrap's command line around launch.argv; env is adjusted to the sandbox's paths. The layers'
        merged folder `opt_dir`, when given, is /opt (read-only)."""
        assert self.support.bwrap is not None
        code = str(code_dir)
        a = self._args = [self.support.bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                          "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                          "--ro-bind", "/usr", "/usr"]
        self._made = {"/", "/usr"}
        self._bound = {"/usr"}  # host folders bound whole (a tmpfs or /proc is not: binds may go inside)
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            target = os.path.join("/", name)
            if os.path.islink(target):
                a += ["--symlink", os.readlink(target), target]
            elif os.path.isdir(target):
                a += ["--ro-bind", target, target]
                self._bound.add(target)
            self._made.add(target)
        for name in ETC_FILES:
            self._bind(os.path.join("/etc", name), os.path.join("/etc", name), optional=True)
        self._hide_data_folder()
        self._bind_accounts()
        a += ["--proc", "/proc", "--dev", "/dev", "--size", str(self.ephemeral_mb << 20), "--perms", "1777",
              "--tmpfs", "/tmp"]
        a += ["--ro-bind", str(opt_dir), "/opt"] if opt_dir is not None else ["--perms", "0755", "--dir", "/opt"]
        self._made |= {"/proc", "/dev", "/tmp", "/opt"}
        self._bind(code, TASK_ROOT)
        self._bind(str(BOOTSTRAP_DIR), RUNTIME_DIR)
        argv = [_opt_inside(self._inside(arg, code), opt_dir) for arg in launch.argv]
        if not _under(argv[0], TASK_ROOT) and not _under(argv[0], "/opt"):
            self._bind_interpreter(launch.argv[0])
        self._search_paths(launch, code, env)
        for name in ("PYTHONPATH", "NODE_PATH", "LD_LIBRARY_PATH"):
            if env.get(name):
                env[name] = os.pathsep.join(_opt_inside(entry, opt_dir) for entry in env[name].split(os.pathsep))
        for folder in self._shared:
            self._share(folder)
        a += ["--chdir", TASK_ROOT]
        self._seccomp()
        env.update({"LAMBDA_TASK_ROOT": TASK_ROOT, "LAMBDA_RUNTIME_DIR": RUNTIME_DIR, "PATH": SANDBOX_PATH})
        if self.uid is not None and self.support.setpriv is not None:
            a += ["--", self.support.setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        elif os.geteuid() == 0:
            a += ["--cap-drop", "ALL"]  # root without setpriv: at least without root's capabilities
        a.append("--")
        return (*self._joiner(), *a, *argv)

    def _seccomp(self) -> None:
        """Load `no_user_namespaces()` into the sandbox (bwrap --seccomp FD): the fd stays open in this
        process until the environment has started (`pass_fds`, then `started()` closes it)."""
        program = no_user_namespaces()
        if program is None:
            return
        fd = os.memfd_create("lambdalite-seccomp", os.MFD_CLOEXEC)
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
        self.pass_fds = (fd,)
        self._args += ["--seccomp", str(fd)]

    def started(self) -> None:
        """The environment's process has started: the fds handed to it are no longer needed here."""
        for fd in self.pass_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.pass_fds = ()

    def _joiner(self) -> tuple[str, ...]:
        """A shell that moves itself into the environment's cgroups, then becomes bwrap: everything bwrap
        starts is inside from its first instruction. Not a preexec_fn: a cgroup v1 move waits for an RCU
        grace period (~5-15 ms), and Popen blocks the event loop until the child has exec'd."""
        folders = [str(folder / "cgroup.procs") for folder in (self._memory, self._pids) if folder is not None]
        if not folders:
            return ()
        moves = " && ".join(f'echo 0 > "${i + 1}"' for i in range(len(folders)))
        return ("/bin/sh", "-c", f'{moves} && shift {len(folders)} && exec "$@"', "sh", *folders)

    @staticmethod
    def _inside(arg: str, code: str) -> str:
        if _under(arg, code):
            return TASK_ROOT + arg[len(code):]
        if _under(arg, str(BOOTSTRAP_DIR)):
            return RUNTIME_DIR + arg[len(str(BOOTSTRAP_DIR)):]
        return arg

    def _bind(self, source: str, dest: str, optional: bool = False, writable: bool = False) -> None:
        if any(_under(dest, bound) for bound in self._bound):
            return  # already visible through a bind above it
        if optional and not os.path.exists(source):
            return
        parent = os.path.dirname(dest)
        missing = []
        while parent not in self._made and parent != "/":
            missing.append(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(missing):  # bwrap would create these 0700 (root's), unreadable to the uid
            self._args += ["--perms", "0755", "--dir", folder]
            self._made.add(folder)
        self._args += ["--bind" if writable else "--ro-bind", source, dest]
        self._made.add(dest)
        self._bound.add(dest)

    def _hide_data_folder(self) -> None:
        """A data folder inside a folder bound whole (say /usr/local/var/lambdalite) would be readable by
        every function: an empty tmpfs is mounted over it, so nothing of it shows."""
        if any(_under(self._data_dir, bound) for bound in self._bound):
            self._args += ["--tmpfs", self._data_dir]

    def _bind_accounts(self) -> None:
        """/etc/passwd and /etc/group naming the function's uid, as Lambda's sbx_user accounts are named:
        libraries ask for the user's name or home (Node's os.userInfo / homedir, the AWS SDK for JavaScript)."""
        if self.uid is None:
            return
        folder = Path(self._data_dir) / "sandbox-etc" / str(self.uid)
        files = {"passwd": f"root:x:0:0:root:/root:/sbin/nologin\nsbx_user:x:{self.uid}:{self.uid}::/tmp:/sbin/nologin\n",
                 "group": f"root:x:0:\nsbx_user:x:{self.uid}:\n"}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                path = folder / name
                if not path.exists():
                    path.write_text(text)
                    path.chmod(0o644)
        except OSError as e:
            log.warning("sandbox accounts in %s: %s", folder, e)
            return
        for name in files:
            self._bind(str(folder / name), f"/etc/{name}")

    def _share(self, folder: str) -> None:
        """A host folder read-write at its own path (LAMBDALITE_SANDBOX_SHARED_DIRS)."""
        path = os.path.realpath(folder)
        if _under(self._data_dir, path) or _under(path, self._data_dir):
            log.warning("not sharing %s with functions: it holds or is inside the data folder", folder)
            return
        if not os.path.isdir(path):
            return
        self._bind(path, path, writable=True)

    def _bind_interpreter(self, program: str) -> None:
        """The interpreter and its installation's lib/ (stdlib, libpython), not its whole prefix (which may
        be a home folder's ~/.local) and not its site-packages (the host's packages are no function's)."""
        binaries = {program, os.path.realpath(program)}
        prefixes = {str(Path(binary).parent.parent) for binary in binaries}
        for prefix in sorted(prefixes):
            lib = os.path.join(prefix, "lib")
            if any(_under(lib, bound) for bound in self._bound):
                continue  # /usr and the like: bound whole already
            self._bind(lib, lib, optional=True)
            for site in sorted(Path(lib).glob("python3*/site-packages")):
                self._args += ["--tmpfs", str(site)]
        for binary in sorted(binaries):
            self._bind(binary, binary)

    def _search_paths(self, launch: Launch, code: str, env: dict[str, str]) -> None:
        """PYTHONPATH / NODE_PATH as the sandbox sees them: the function's code at /var/task, and each folder
        lambdalite adds (boto3, awslambdaric) under VENDOR_DIR. Such a folder may be links to the server's
        packages: then each linked package is bound alone, never the site-packages around it."""
        inside: dict[str, str] = {}
        for i, folder in enumerate((*launch.python_path, *launch.node_path)):
            if folder not in inside and not _under(folder, code):
                inside[folder] = f"{VENDOR_DIR}/{i}"
                self._bind_search_folder(folder, inside[folder])
        for name in ("PYTHONPATH", "NODE_PATH"):
            if env.get(name):
                env[name] = os.pathsep.join(inside.get(entry) or self._inside(entry, code)
                                            for entry in env[name].split(os.pathsep))

    def _bind_search_folder(self, folder: str, dest: str) -> None:
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:
            return
        if not any(entry.is_symlink() for entry in entries):
            self._bind(folder, dest)
            return
        self._args += ["--perms", "0755", "--dir", dest]
        self._made.add(dest)
        for entry in entries:
            self._bind(os.path.realpath(entry.path), f"{dest}/{entry.name}", optional=True)

    # ---- memory -----------------------------------------------------------------------------------
    @property
    def has_memory_cgroup(self) -> bool:
        return self._memory is not None

    def tree_rss_kb(self) -> int:
        """Anonymous memory of every process in the environment (memory.stat `rss`), 0 when unknown."""
        if self._memory is None:
            return 0
        try:
            if self._stat_fd is None:
                self._stat_fd = os.open(self._memory / "memory.stat", os.O_RDONLY)
            stat = os.pread(self._stat_fd, 256, 0)
        except OSError:
            return 0
        start = stat.find(b"\nrss ")
        if start < 0:
            return 0
        end = stat.find(b"\n", start + 5)
        return int(stat[start + 5:end]) // 1024

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this environment at the hard ceiling."""
        if self._memory is None:
            return False
        try:
            text = (self._memory / "memory.oom_control").read_text()
        except OSError:
            return False
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1]) > 0
        return False

    def kill(self) -> None:
        """SIGKILL every process in the environment's cgroup (bwrap's death ends the rest anyway)."""
        folder = self._memory or self._pids
        if folder is None:
            return
        with contextlib.suppress(OSError):
            for pid in (folder / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)

    def close(self, call_later: Callable[[float, Callable[[], None]], object] | None = None) -> None:
        """Remove the cgroups; processes of a killed PID namespace may take a moment to go, so retry."""
        if self._stat_fd is not None:
            os.close(self._stat_fd)
            self._stat_fd = None
        self._rmdir(call_later, CGROUP_RMDIR_ATTEMPTS)

    def _rmdir(self, call_later: Callable[[float, Callable[[], None]], object] | None, attempts: int) -> None:
        busy = False
        for attr in ("_memory", "_pids"):
            folder: Path | None = getattr(self, attr)
            if folder is None:
                continue
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as e:
                if e.errno == errno.EBUSY:
                    busy = True
                    _emptying.add(folder)
                    continue
                log.warning("cgroup %s: %s", folder, e)
            _emptying.discard(folder)
            setattr(self, attr, None)
        if busy and call_later is not None and attempts > 1:
            call_later(0.1, lambda: self._rmdir(call_later, attempts - 1))


# Cgroups of stopped environments whose processes were still going when last tried (see Walls.close).
_emptying: set[Path] = set()


@atexit.register
def _remove_emptying() -> None:
    """At exit (the loop that retried is gone): wait briefly for the last environments' cgroups to empty.
    What still remains is swept by the next lambdalite that starts in this cgroup (_sweep_stale)."""
    deadline_s = time.monotonic() + EXIT_CLEANUP_S
    while _emptying and time.monotonic() < deadline_s:
        for folder in list(_emptying):
            try:
                folder.rmdir()
            except FileNotFoundError:
                _emptying.discard(folder)
            except OSError:
                continue
            _emptying.discard(folder)
        if _emptying:
            time.sleep(0.02)
