"""Which program an environment runs: a real python3.N for python runtimes, the code's `bootstrap` for
provided runtimes, the server's own interpreter for awslambdaric.

pyenv shims are shell scripts that cost tens of milliseconds per start, so real binaries are resolved
once (pyenv versions folder, then PATH entries that are not scripts) and cached.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("lambdalite.runtime")

BOOTSTRAP_DIR = Path(__file__).resolve().parent / "bootstrap"
BOOTSTRAP_SCRIPT = BOOTSTRAP_DIR / "lambdalite_bootstrap.py"
PYTHON_RUNTIME = re.compile(r"python3\.(\d+)")
PROVIDED_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})
# Pure-python packages AWS's python runtimes ship; offered to interpreters that lack them.
VENDORED_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


@dataclass(frozen=True, slots=True)
class Launch:
    """The command an environment runs and how it relates to the requested runtime."""

    argv: tuple[str, ...]
    native: bool  # False: a python runtime running on the server's interpreter instead of python3.N
    vendor_path: str = ""  # appended to sys.path by lambdalite's bootstrap (boto3 for bare interpreters)


class LaunchError(Exception):
    """The runtime cannot be started (AWS reports these as function errors)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return True


def _version_key(path: Path) -> tuple[int, ...]:
    parts = re.findall(r"\d+", path.parent.parent.name)
    return tuple(int(p) for p in parts)


@functools.cache
def find_python(minor: int) -> str | None:
    """A real python3.<minor> binary, or None."""
    if sys.version_info[:2] == (3, minor):
        return sys.executable
    name = f"python3.{minor}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = sorted(pyenv_root.glob(f"versions/3.{minor}.*/bin/{name}"), key=_version_key, reverse=True)
    candidates = [str(p) for p in found]
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and "shims" not in directory:
            candidates.append(os.path.join(directory, name))
    candidates += [f"/usr/local/bin/{name}", f"/usr/bin/{name}"]
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and not _is_script(candidate):
            return candidate
    via_path = shutil.which(name)
    if via_path and not _is_script(via_path):
        return via_path
    return None


@functools.cache
def vendor_path(data_dir: Path) -> str:
    """A folder of links to the server's boto3 stack, for interpreters without boto3 (AWS ships it)."""
    target = data_dir / "runtime-vendor"
    try:
        target.mkdir(parents=True, exist_ok=True)
        for package in VENDORED_PACKAGES:
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            link = target / source.name
            if not link.exists():
                link.symlink_to(source)
    except OSError:
        return ""
    return str(target)


_fallback_logged: set[str] = set()


def launch_for(runtime: str, runtime_client: str, handler: str, code_dir: Path, function_name: str,
               data_dir: Path) -> Launch:
    """The command for a runtime; raises LaunchError when the runtime cannot run at all."""
    if runtime in PROVIDED_RUNTIMES:
        bootstrap = code_dir / "bootstrap"
        if not (bootstrap.is_file() and os.access(bootstrap, os.X_OK)):
            raise LaunchError("Runtime.InvalidEntrypoint",
                              f"Couldn't find valid bootstrap(s): [{code_dir}/bootstrap /opt/bootstrap]")
        return Launch((str(bootstrap),), native=True)
    match = PYTHON_RUNTIME.fullmatch(runtime)
    if match is None:
        raise LaunchError("Runtime.InvalidRuntime", f"Unsupported runtime: {runtime}")
    if runtime_client == "awslambdaric":
        return Launch((sys.executable, "-m", "awslambdaric", handler), native=False)
    python = find_python(int(match.group(1)))
    native = python is not None
    if python is None:
        python = sys.executable
        if function_name not in _fallback_logged:
            _fallback_logged.add(function_name)
            log.warning("%s: %s is not installed; running %s on %s", function_name, runtime,
                        function_name, sys.version.split()[0])
    vendor = "" if python == sys.executable else vendor_path(data_dir)
    return Launch((python, str(BOOTSTRAP_SCRIPT)), native=native, vendor_path=vendor)
