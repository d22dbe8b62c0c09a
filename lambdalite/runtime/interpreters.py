"""Which program an environment runs, and what it can see: the runtime's own interpreter, never lambdalite's.

- python3.N runs on a real python3.N binary with `-S`: no site-packages of that interpreter (pyenv's or
  Debian's may hold pytest, lambdalite...) and never lambdalite's virtualenv. What a function can import
  is its code, its layers, the standard library and a boto3 stack that admits that Python (PYTHONPATH).
- nodejsN.x runs lambdalite's own Node.js runtime client (bootstrap/node/) on a node whose major is N.
- provided* runs the code's `bootstrap`; a `#!/bin/sh` script runs under bash, as on Amazon Linux.
- A runtime whose interpreter this host lacks is refused when a function is created or updated
  (`require_host_runtime`), not silently run on another one.

pyenv shims are shell scripts that cost tens of milliseconds per start, so real binaries are resolved
once per process (pyenv versions folder, then PATH entries that are not scripts) and cached.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lambdalite.faults import Fault
from lambdalite.model.function import RUNTIMES

log = logging.getLogger("lambdalite.runtime")

BOOTSTRAP_DIR = Path(__file__).resolve().parent / "bootstrap"
BOOTSTRAP_SCRIPT = BOOTSTRAP_DIR / "lambdalite_bootstrap.py"
NODE_BOOTSTRAP = BOOTSTRAP_DIR / "node" / "bootstrap.cjs"
PYTHON_RUNTIME = re.compile(r"python3\.(\d+)")
NODE_RUNTIME = re.compile(r"nodejs(\d+)\.x")
PROVIDED_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})
# The pure-python boto3 stack AWS's python runtimes ship, as top-level import names.
BOTO3_STACK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
# awslambdaric and what it imports (runtime_client is its C extension, built for the server's Python).
RIC_STACK = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")
# `python -S -m awslambdaric`, plus the exit()/quit()/help() builtins that -S leaves out (AWS has them).
RIC_MAIN = ("import runpy, site; site.setquit(); site.setcopyright(); site.sethelper(); "
            "runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)")
# `<data>/runtime-packages/python3.N/` (an operator's `pip install --target`) wins over the server's stack.
RUNTIME_PACKAGES_DIR = "runtime-packages"
NODE_VERSION_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Launch:
    """The command an environment runs and the variables that go with it."""

    argv: tuple[str, ...]
    python_path: tuple[str, ...] = ()  # PYTHONPATH entries after the function's own (layers, boto3)
    node_path: tuple[str, ...] = ()
    execution_env: str = ""  # AWS_EXECUTION_ENV

    def apply(self, env: dict[str, str]) -> None:
        """Add this launch's variables to a process environment (a function's own PYTHONPATH comes first)."""
        if self.python_path:
            own = env.get("PYTHONPATH")
            env["PYTHONPATH"] = os.pathsep.join(([own] if own else []) + list(self.python_path))
        if self.node_path:
            own = env.get("NODE_PATH")
            env["NODE_PATH"] = os.pathsep.join(([own] if own else []) + list(self.node_path))
        if self.execution_env:
            env["AWS_EXECUTION_ENV"] = self.execution_env
        if "PATH" in env:
            env["PATH"] = _without_virtualenv(env["PATH"])


class LaunchError(Exception):
    """The runtime cannot be started (AWS reports these as function errors)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _without_virtualenv(path: str) -> str:
    """PATH minus lambdalite's own virtualenv, so `python3` in a function is not the server's venv."""
    if sys.prefix == sys.base_prefix:
        return path
    venv_bin = os.path.join(sys.prefix, "bin")
    return os.pathsep.join(d for d in path.split(os.pathsep) if os.path.normpath(d) != venv_bin)


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return True


def _version_key(path: Path) -> tuple[int, ...]:
    parts = re.findall(r"\d+", path.parent.parent.name)
    return tuple(int(p) for p in parts)


def _in_virtualenv(path: str) -> bool:
    """True for an interpreter inside a virtualenv: its `-S` still works, but `sys.executable` would
    point a function's subprocesses at that venv's packages."""
    return (Path(path).parent.parent / "pyvenv.cfg").exists()


# ---- python ------------------------------------------------------------------------------------------
@functools.cache
def find_python(minor: int) -> str | None:
    """A real python3.<minor> binary (not a shim, not a virtualenv's), or None."""
    name = f"python3.{minor}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = sorted(pyenv_root.glob(f"versions/3.{minor}.*/bin/{name}"), key=_version_key, reverse=True)
    candidates = [str(p) for p in found]
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and "shims" not in directory:
            candidates.append(os.path.join(directory, name))
    candidates += [f"/usr/local/bin/{name}", f"/usr/bin/{name}"]
    if sys.version_info[:2] == (3, minor):
        candidates.append(getattr(sys, "_base_executable", sys.executable))
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and not _is_script(candidate) and not _in_virtualenv(candidate):
            return candidate
    return None


def requires_python_admits(spec: str, minor: int) -> bool:
    """Whether a `Requires-Python` specifier (">=3.10", "!=3.0.*,>=2.7") admits python3.<minor>.

    Compared on (3, minor, +inf): a runtime gets its newest patch release, so ">=3.9.2" admits 3.9.
    """
    version = (3, minor, 10**6)
    for clause in (c.strip() for c in spec.split(",")):
        match = re.fullmatch(r"(~=|===|==|!=|<=|>=|<|>)\s*([\d.]+)(\.\*)?", clause)
        if match is None:
            continue  # not a version we can read: do not refuse on it
        op, text, wildcard = match.groups()
        bound = tuple(int(p) for p in text.split("."))
        if wildcard:
            same = version[: len(bound)] == bound
            if (op == "==" and not same) or (op == "!=" and same):
                return False
            continue
        # "<=3.10" admits 3.10.x: compare only as many parts as the bound has
        head = version[: len(bound)]
        ok = {"==": head == bound, "===": head == bound, "!=": head != bound, "<": head < bound,
              "<=": head <= bound, ">": version > bound, ">=": version >= bound,
              "~=": version >= bound and head[:-1] == bound[:-1]}[op]
        if not ok:
            return False
    return True


def _distributions(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    mapping = importlib.metadata.packages_distributions()
    found = []
    for name in names:
        for dist_name in mapping.get(name, [])[:1]:
            found.append(importlib.metadata.distribution(dist_name))
    return found


def server_boto3_admits(minor: int) -> str:
    """"" when the server's boto3 stack runs on python3.<minor>, else why not. Not cached when boto3 was
    not found: that may be a passing failure (no file descriptor left), not the environment's answer."""
    if len(_distributions_cached(BOTO3_STACK)) < len(BOTO3_STACK):
        _distributions_cached.cache_clear()
        return "lambdalite's environment has no boto3"
    return _boto3_admits(minor)


@functools.cache
def _distributions_cached(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    return _distributions(names)


@functools.cache
def _boto3_admits(minor: int) -> str:
    dists = _distributions_cached(BOTO3_STACK)
    for dist in dists:
        spec = dist.metadata["Requires-Python"] or ""
        if spec and not requires_python_admits(spec, minor):
            return f"{dist.metadata['Name']} {dist.version} requires Python {spec}"
    return ""


def _link_folder(target: Path, modules: tuple[str, ...]) -> str:
    """A folder of symbolic links to the server's copies of `modules` (packages or single files)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        for module in modules:
            spec = importlib.util.find_spec(module)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            link = target / source.name
            if not link.exists():
                link.symlink_to(source)
    except OSError:
        log.exception("could not prepare %s", target)
        return ""
    return str(target)


_without_boto3_logged: set[int] = set()


_server_boto3_folders: dict[Path, str] = {}


def _server_boto3(data_dir: Path) -> str:
    """The folder of links to the server's boto3 stack (made once; a failure is tried again next time)."""
    folder = _server_boto3_folders.get(data_dir)
    if not folder:
        folder = _server_boto3_folders[data_dir] = _link_folder(data_dir / "runtime-vendor", BOTO3_STACK)
    return folder


def boto3_path(minor: int, data_dir: Path) -> str:
    """Where python3.<minor> functions find boto3 (AWS's runtimes include it), or "" for nowhere.

    1. `<data>/runtime-packages/python3.N/` when it holds boto3 (pip install --target ... boto3);
    2. links to the server's boto3 stack when every package's Requires-Python admits 3.N;
    3. none: functions on that runtime bundle their own boto3, and the server says so once.
    Checked at each environment start (one stat), so an operator's copy needs no restart.
    """
    own = data_dir / RUNTIME_PACKAGES_DIR / f"python3.{minor}"
    if (own / "boto3").is_dir():
        return str(own)
    reason = server_boto3_admits(minor)
    if not reason:
        return _server_boto3(data_dir)
    if minor not in _without_boto3_logged:
        _without_boto3_logged.add(minor)
        log.warning("python3.%d functions run without boto3 (%s); bundle it with the function, or run "
                    "`python3.%d -m pip install --target %s boto3`", minor, reason, minor, own)
    return ""


def python_path(minor: int, data_dir: Path, opt_dir: Path | None = None) -> tuple[str, ...]:
    """PYTHONPATH for a python3.<minor> function: layers as AWS searches them, then boto3."""
    entries: list[str] = []
    if opt_dir is not None:
        entries += [str(opt_dir / "python" / "lib" / f"python3.{minor}" / "site-packages"),
                    str(opt_dir / "python")]
    boto3 = boto3_path(minor, data_dir)
    if boto3:
        entries.append(boto3)
    return tuple(entries)


_ric_fallback_logged: set[str] = set()


def _python_launch(minor: int, runtime_client: str, handler: str, function_name: str,
                   data_dir: Path) -> Launch:
    env_name = f"AWS_Lambda_python3.{minor}"
    if runtime_client == "awslambdaric":
        # awslambdaric's C extension is built for the server's Python: it runs there, whatever the runtime.
        server_minor = sys.version_info[1]
        ric_python = find_python(server_minor) or sys.executable
        if minor != server_minor and function_name not in _ric_fallback_logged:
            _ric_fallback_logged.add(function_name)
            log.warning("%s: awslambdaric is installed for python3.%d only; running python3.%d on it",
                        function_name, server_minor, minor)
        search = (_link_folder(data_dir / "runtime-ric", RIC_STACK), *python_path(server_minor, data_dir))
        return Launch((ric_python, "-S", "-c", RIC_MAIN, handler), tuple(p for p in search if p),
                      execution_env=env_name)
    python = find_python(minor)
    if python is None:
        raise LaunchError("Runtime.InvalidRuntime", f"python3.{minor} is not installed on this lambdalite host")
    return Launch((python, "-S", str(BOOTSTRAP_SCRIPT)), python_path(minor, data_dir), execution_env=env_name)


# ---- node ----------------------------------------------------------------------------------------------
def _node_candidates() -> list[str]:
    candidates = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and "shims" not in directory:
            candidates += [os.path.join(directory, "node"), os.path.join(directory, "nodejs")]
    nvm_dir = Path(os.environ.get("NVM_DIR") or Path.home() / ".nvm")
    candidates += [str(p) for p in sorted(nvm_dir.glob("versions/node/v*/bin/node"), reverse=True)]
    candidates += ["/usr/local/bin/node", "/usr/bin/node"]
    return candidates


@functools.cache
def node_binaries() -> dict[int, str]:
    """Major version -> a node binary on this host (`node --version` asked once per binary)."""
    found: dict[int, str] = {}
    seen: set[str] = set()
    for candidate in _node_candidates():
        real = os.path.realpath(candidate)
        if real in seen or not os.access(real, os.X_OK) or _is_script(real):
            continue
        seen.add(real)
        try:
            out = subprocess.run([real, "--version"], capture_output=True, text=True,
                                 timeout=NODE_VERSION_TIMEOUT_S, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = re.match(r"v(\d+)\.", out.strip())
        if match:
            found.setdefault(int(match.group(1)), real)
    return found


def find_node(major: int) -> str | None:
    return node_binaries().get(major)


def _node_launch(major: int, runtime: str, code_dir: Path) -> Launch:
    node = find_node(major)
    if node is None:
        raise LaunchError("Runtime.InvalidRuntime", f"node {major} is not installed on this lambdalite host")
    return Launch((node, str(NODE_BOOTSTRAP)), node_path=(str(code_dir),), execution_env=f"AWS_Lambda_{runtime}")


# ---- provided ------------------------------------------------------------------------------------------
def _shell_for(bootstrap: Path) -> tuple[str, ...]:
    """`#!/bin/sh` means bash on Amazon Linux (in POSIX mode, as bash runs when called sh); elsewhere it
    may be dash, which rejects `set -o pipefail` from AWS's own tutorial. Other shebangs run as they are."""
    try:
        with open(bootstrap, "rb") as f:
            first = f.readline(256)
    except OSError:
        return ()
    if not first.startswith(b"#!"):
        return ()
    words = first[2:].decode("utf-8", "replace").split()
    if len(words) >= 2 and os.path.basename(words[0]) == "env":
        words = words[1:]
    if not words or words[0] not in ("/bin/sh", "/usr/bin/sh", "sh"):
        return ()
    bash = shutil.which("bash") or "/bin/bash"
    return (bash, "--posix", *words[1:]) if os.access(bash, os.X_OK) else ()


# ---- the host's runtimes ------------------------------------------------------------------------------
def runtime_available(runtime: str) -> bool:
    """Whether this host has what `runtime` needs (provided* needs nothing but the code's bootstrap)."""
    if runtime in PROVIDED_RUNTIMES:
        return True
    if match := PYTHON_RUNTIME.fullmatch(runtime):
        return find_python(int(match.group(1))) is not None
    if match := NODE_RUNTIME.fullmatch(runtime):
        return find_node(int(match.group(1))) is not None
    return False


def host_runtimes() -> tuple[str, ...]:
    """The runtimes this host can run, in RUNTIMES order."""
    return tuple(runtime for runtime in RUNTIMES if runtime_available(runtime))


def require_host_runtime(runtime: str) -> None:
    """Refuse (400 InvalidParameterValueException, AWS's shape for a runtime it will not take) a runtime
    whose interpreter is not installed here, naming those that are."""
    if not runtime_available(runtime):
        raise Fault(400, "InvalidParameterValueException",
                    f"The runtime parameter of {runtime} is not supported by this lambdalite host; "
                    f"it can run: {', '.join(host_runtimes())}")


def launch_for(runtime: str, runtime_client: str, handler: str, code_dir: Path, function_name: str,
               data_dir: Path, opt_dir: Path | None = None) -> Launch:
    """The command for a runtime; raises LaunchError when the runtime cannot run at all. A provided
    runtime's bootstrap comes from the code, else from its layers (`opt_dir`, /opt), as on AWS."""
    if runtime in PROVIDED_RUNTIMES:
        bootstrap = code_dir / "bootstrap"
        if not (bootstrap.is_file() and os.access(bootstrap, os.X_OK)) and opt_dir is not None:
            bootstrap = opt_dir / "bootstrap"
        if not (bootstrap.is_file() and os.access(bootstrap, os.X_OK)):
            raise LaunchError("Runtime.InvalidEntrypoint",
                              f"Couldn't find valid bootstrap(s): [{code_dir}/bootstrap /opt/bootstrap]")
        return Launch((*_shell_for(bootstrap), str(bootstrap)))
    if match := PYTHON_RUNTIME.fullmatch(runtime):
        return _python_launch(int(match.group(1)), runtime_client, handler, function_name, data_dir)
    if match := NODE_RUNTIME.fullmatch(runtime):
        return _node_launch(int(match.group(1)), runtime, code_dir)
    raise LaunchError("Runtime.InvalidRuntime", f"Unsupported runtime: {runtime}")
