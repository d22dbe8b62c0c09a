"""Interpreter resolution: real binaries, the boto3 policy per Python, `#!/bin/sh` under bash, host runtimes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lambdalite.faults import Fault
from lambdalite.runtime.interpreters import (
    BOOTSTRAP_SCRIPT,
    NODE_BOOTSTRAP,
    RIC_MAIN,
    Launch,
    LaunchError,
    find_node,
    find_python,
    host_runtimes,
    launch_for,
    require_host_runtime,
    requires_python_admits,
)


def test_find_python_is_a_real_binary_outside_any_virtualenv() -> None:
    own = find_python(sys.version_info[1])
    assert own is not None and own != sys.executable or sys.prefix == sys.base_prefix
    for minor in (9, 10, 11, 12, 13, 14):
        found = find_python(minor)
        if found is not None:
            with open(found, "rb") as f:
                assert f.read(2) != b"#!", found
            assert os.access(found, os.X_OK)
            assert not (Path(found).parent.parent / "pyvenv.cfg").exists(), found


@pytest.mark.parametrize(("spec", "minor", "admitted"), [
    (">= 3.10", 9, False), (">= 3.10", 10, True), (">=3.9", 9, True),
    ("!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", 9, True), (">=2.7, !=3.0.*, !=3.9.*", 9, False),
    ("<3.13", 13, False), ("<=3.12", 12, True), (">=3.9.2", 9, True), ("==3.12.*", 12, True),
    ("~=3.8", 14, True), ("", 9, True), ("weird", 9, True),
])
def test_requires_python_admits(spec: str, minor: int, admitted: bool) -> None:
    assert requires_python_admits(spec, minor) is admitted


def test_python_runs_without_site_and_with_boto3_on_pythonpath(tmp_path: Path) -> None:
    launch = launch_for("python3.12", "builtin", "h.h", tmp_path, "fn", tmp_path)
    assert launch.argv[1:] == ("-S", str(BOOTSTRAP_SCRIPT)) and launch.argv[0] == find_python(12)
    assert launch.python_path == (str(tmp_path / "runtime-vendor"),)
    assert (tmp_path / "runtime-vendor" / "boto3").is_symlink()
    assert launch.execution_env == "AWS_Lambda_python3.12"


def test_python39_gets_no_server_boto3_but_an_operators_copy(tmp_path: Path) -> None:
    if find_python(9) is None:
        pytest.skip("python3.9 is not installed here")
    assert launch_for("python3.9", "builtin", "h.h", tmp_path, "fn", tmp_path).python_path == ()
    own = tmp_path / "other" / "runtime-packages" / "python3.9"
    (own / "boto3").mkdir(parents=True)
    launch = launch_for("python3.9", "builtin", "h.h", tmp_path, "fn", tmp_path / "other")
    assert launch.python_path == (str(own),)


def test_awslambdaric_runs_on_the_servers_python_with_its_own_path(tmp_path: Path) -> None:
    ric = launch_for("python3.12", "awslambdaric", "app.handler", tmp_path, "fn", tmp_path)
    assert ric.argv == (find_python(sys.version_info[1]), "-S", "-c", RIC_MAIN, "app.handler")
    assert ric.python_path[0] == str(tmp_path / "runtime-ric")
    assert (tmp_path / "runtime-ric" / "awslambdaric").is_symlink()


def test_launch_apply_puts_the_functions_own_pythonpath_first() -> None:
    env = {"PYTHONPATH": "/mine", "PATH": "/usr/bin"}
    Launch(("x",), python_path=("/a", "/b"), execution_env="AWS_Lambda_python3.12").apply(env)
    assert env == {"PYTHONPATH": "/mine:/a:/b", "PATH": "/usr/bin", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}


def _bootstrap(tmp_path: Path, first_line: str) -> Path:
    path = tmp_path / "bootstrap"
    path.write_text(first_line + "\necho hi\n")
    path.chmod(0o755)
    return path


def test_sh_bootstraps_run_under_bash_others_as_they_are(tmp_path: Path) -> None:
    bootstrap = _bootstrap(tmp_path, "#!/bin/sh")
    argv = launch_for("provided.al2023", "builtin", "h", tmp_path, "fn", tmp_path).argv
    assert os.path.basename(argv[0]) == "bash" and argv[1:] == ("--posix", str(bootstrap))
    _bootstrap(tmp_path, "#!/bin/sh -e")
    assert launch_for("provided", "builtin", "h", tmp_path, "fn", tmp_path).argv[1:] == (
        "--posix", "-e", str(bootstrap))
    _bootstrap(tmp_path, "#!/usr/bin/env sh")
    assert launch_for("provided.al2", "builtin", "h", tmp_path, "fn", tmp_path).argv[1] == "--posix"
    _bootstrap(tmp_path, "#!/bin/bash")
    assert launch_for("provided.al2", "builtin", "h", tmp_path, "fn", tmp_path).argv == (str(bootstrap),)


def test_launch_errors(tmp_path: Path) -> None:
    with pytest.raises(LaunchError) as missing:
        launch_for("provided.al2023", "builtin", "h", tmp_path, "fn", tmp_path)
    assert missing.value.error_type == "Runtime.InvalidEntrypoint"
    with pytest.raises(LaunchError) as no_node:
        launch_for("nodejs99.x", "builtin", "h", tmp_path, "fn", tmp_path)
    assert no_node.value.error_type == "Runtime.InvalidRuntime"
    with pytest.raises(LaunchError):
        launch_for("java21", "builtin", "h", tmp_path, "fn", tmp_path)


def test_node_runs_lambdalites_bootstrap(tmp_path: Path) -> None:
    if find_node(20) is None:
        pytest.skip("node 20 is not installed here")
    launch = launch_for("nodejs20.x", "builtin", "index.handler", tmp_path, "fn", tmp_path)
    assert launch.argv == (find_node(20), str(NODE_BOOTSTRAP)) and NODE_BOOTSTRAP.is_file()
    assert launch.node_path == (str(tmp_path),) and launch.execution_env == "AWS_Lambda_nodejs20.x"


def test_host_runtimes_and_the_refusal() -> None:
    runtimes = host_runtimes()
    assert {"provided", "provided.al2", "provided.al2023", f"python3.{sys.version_info[1]}"} <= set(runtimes)
    require_host_runtime("provided.al2023")
    with pytest.raises(Fault) as refused:
        require_host_runtime("nodejs99.x")
    assert refused.value.status == 400 and refused.value.code == "InvalidParameterValueException"
    assert refused.value.message == (f"The runtime parameter of nodejs99.x is not supported by this lambdalite "
                                     f"host; it can run: {', '.join(runtimes)}")
