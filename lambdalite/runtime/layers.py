"""A function's layers as one /opt: each layer's unpacked archive applied in order (a later layer's file
replaces an earlier one's, as Lambda extracts them), plus the search paths AWS sets under /opt.

The merged folder is content-addressed (the layers' folders in order), built once with hard links where
the filesystem allows, renamed into place only when complete, and read-only by convention like code.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

OPT = "/opt"
_PYTHON = re.compile(r"python3\.(\d+)")
_NODE = re.compile(r"nodejs(\d+)\.x")


def opt_folder(layer_dirs: tuple[Path, ...], root: Path) -> Path:
    """The merged folder of these layers, in order (blocking: run it in a thread)."""
    key = hashlib.sha256("\n".join(str(d) for d in layer_dirs).encode()).hexdigest()
    target = root / key
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    try:
        for layer in layer_dirs:
            if not layer.is_dir():
                raise FileNotFoundError(f"layer content {layer} is missing")
            _overlay(layer, tmp)
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _overlay(source: Path, dest: Path) -> None:
    for folder, _dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        out = dest / rel
        if out.exists() and not out.is_dir():
            out.unlink()
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o755)
        for name in files:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            try:
                os.link(Path(folder) / name, target)
            except OSError:
                shutil.copy2(Path(folder) / name, target)


def search_paths(runtime: str, opt: str) -> dict[str, list[str]]:
    """The variables' entries AWS points at /opt for `runtime` (PYTHONPATH, NODE_PATH, PATH, LD_LIBRARY_PATH)."""
    paths: dict[str, list[str]] = {"PATH": [f"{opt}/bin"], "LD_LIBRARY_PATH": [f"{opt}/lib"]}
    if match := _PYTHON.fullmatch(runtime):
        paths["PYTHONPATH"] = [f"{opt}/python/lib/python3.{match.group(1)}/site-packages", f"{opt}/python"]
    elif match := _NODE.fullmatch(runtime):
        paths["NODE_PATH"] = [f"{opt}/nodejs/node{match.group(1)}/node_modules", f"{opt}/nodejs/node_modules"]
    return paths


def add_search_paths(env: dict[str, str], runtime: str, opt: str) -> None:
    """Append the layers' entries after the function's own values (PATH and LD_LIBRARY_PATH) or before
    the runtime's (PYTHONPATH, NODE_PATH: a Launch appends its own later)."""
    for name, entries in search_paths(runtime, opt).items():
        own = env.get(name)
        env[name] = os.pathsep.join(([own] if own else []) + entries)
