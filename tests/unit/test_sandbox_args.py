"""The bwrap command line a sandbox is built from (pure: nothing is spawned)."""

from __future__ import annotations

from pathlib import Path

from lambdalite.runtime import sandbox
from lambdalite.runtime.interpreters import BOOTSTRAP_SCRIPT, Launch

SUPPORT = sandbox.Support("/usr/bin/bwrap", "/usr/bin/setpriv", None, None)


def _binds(argv: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """dest -> (option, source) for every bind."""
    out = {}
    for i, arg in enumerate(argv):
        if arg in ("--bind", "--ro-bind"):
            out[argv[i + 2]] = (arg, argv[i + 1])
    return out


def test_code_bootstrap_and_tmp_and_uid(tmp_path: Path) -> None:
    code = tmp_path / "data" / "code" / "abc"
    env: dict[str, str] = {}
    walls = sandbox.Walls(SUPPORT, 40000, 128, 1024, tmp_path / "data")
    argv = walls.wrap(Launch(("/usr/bin/python3", str(BOOTSTRAP_SCRIPT))), code, env)
    binds = _binds(argv)
    assert binds["/var/task"] == ("--ro-bind", str(code))
    assert binds["/var/runtime"] == ("--ro-bind", str(BOOTSTRAP_SCRIPT.parent))
    assert argv[-2:] == ("/usr/bin/python3", "/var/runtime/lambdalite_bootstrap.py")
    assert argv[argv.index("--tmpfs") - 4:argv.index("--tmpfs") + 2] == (
        "--size", str(1024 << 20), "--perms", "1777", "--tmpfs", "/tmp")
    assert f"--reuid={sandbox.UID_BASE + 40000}" in argv and "--unshare-pid" in argv
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert not any(source.startswith(str(tmp_path / "data")) and dest not in ("/var/task", "/etc/passwd", "/etc/group")
                   for dest, (_, source) in binds.items())
    passwd = Path(binds["/etc/passwd"][1]).read_text()  # the uid has a name and a home, as Lambda's sbx_user
    assert f"sbx_user:x:{sandbox.UID_BASE + 40000}:{sandbox.UID_BASE + 40000}::/tmp:" in passwd


def test_an_interpreter_prefix_holding_the_data_folder_is_not_bound_whole(tmp_path: Path) -> None:
    prefix = tmp_path / "home"
    python = prefix / "bin" / "python3.12"
    walls = sandbox.Walls(SUPPORT, 40001, 128, 512, prefix / "data", shared_dirs=f"{prefix}:{tmp_path / 'shared'}")
    (tmp_path / "shared").mkdir()
    argv = walls.wrap(Launch((str(python), str(BOOTSTRAP_SCRIPT))), prefix / "data" / "code", {})
    binds = _binds(argv)
    assert str(prefix) not in binds  # neither as the interpreter's prefix nor as a shared folder
    assert binds[str(python)] == ("--ro-bind", str(python))
    assert binds[str(tmp_path / "shared")] == ("--bind", str(tmp_path / "shared"))


def test_an_interpreter_brings_its_lib_but_not_its_prefix_or_site_packages(tmp_path: Path) -> None:
    prefix = tmp_path / ".local"  # a python3.N under a home folder: nothing else of it may show
    python = prefix / "bin" / "python3.12"
    (prefix / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    (prefix / "secrets").mkdir()
    argv = sandbox.Walls(SUPPORT, 40004, 128, 512, tmp_path / "data").wrap(
        Launch((str(python), str(BOOTSTRAP_SCRIPT))), tmp_path / "data" / "code", {})
    binds = _binds(argv)
    assert str(prefix) not in binds and str(prefix / "secrets") not in binds
    assert binds[str(prefix / "lib")] == ("--ro-bind", str(prefix / "lib"))
    assert binds[str(python)] == ("--ro-bind", str(python))
    site = str(prefix / "lib" / "python3.12" / "site-packages")
    assert argv[argv.index(site) - 1] == "--tmpfs" and argv.index(site) > argv.index(str(prefix / "lib"))


def test_search_paths_are_translated_and_linked_packages_bound_alone(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "boto3").mkdir(parents=True)
    (site / "pytest").mkdir()  # beside boto3 on the host; must not become visible
    links = tmp_path / "data" / "runtime-vendor"
    links.mkdir(parents=True)
    (links / "boto3").symlink_to(site / "boto3")
    own = tmp_path / "data" / "runtime-packages" / "python3.12"
    own.mkdir(parents=True)
    code = tmp_path / "data" / "code" / "abc"
    env = {"PYTHONPATH": f"{code}/lib:/var/task/vendored:{own}:{links}"}
    walls = sandbox.Walls(SUPPORT, 40002, 128, 512, tmp_path / "data")
    launch = Launch(("/usr/bin/python3", str(BOOTSTRAP_SCRIPT)), python_path=(str(own), str(links)))
    binds = _binds(walls.wrap(launch, code, env))
    first, second = f"{sandbox.VENDOR_DIR}/0", f"{sandbox.VENDOR_DIR}/1"
    assert env["PYTHONPATH"] == f"/var/task/lib:/var/task/vendored:{first}:{second}"
    assert binds[first] == ("--ro-bind", str(own))
    assert binds[f"{second}/boto3"] == ("--ro-bind", str(site / "boto3"))
    assert not any(source in (str(site), str(site / "pytest"), str(links)) for _, source in binds.values())


def test_a_data_folder_under_a_folder_bound_whole_is_hidden(tmp_path: Path) -> None:
    data = Path("/usr/local/var/lambdalite-data")  # a path only: without setpriv nothing is written there
    no_uid = sandbox.Support("/usr/bin/bwrap", None, None, None)
    argv = sandbox.Walls(no_uid, 40003, 128, 512, data).wrap(Launch(("/usr/bin/python3",)), data / "code" / "c", {})
    mounts = [(argv[i], argv[i + 1]) for i in range(len(argv) - 1) if argv[i] == "--tmpfs"]
    assert ("--tmpfs", str(data)) in mounts
    assert argv.index("--tmpfs", argv.index(str(data)) - 1) > argv.index("/usr")  # after /usr is bound


def test_exec_failure_in_awss_words() -> None:
    assert sandbox.exec_failure(b"setpriv: failed to execute /var/task/bootstrap: No such file or directory\n") == (
        "fork/exec /var/task/bootstrap: no such file or directory")
    assert sandbox.exec_failure(b"bwrap: execvp /var/task/bootstrap: Permission denied\n") == (
        "fork/exec /var/task/bootstrap: permission denied")
    assert sandbox.exec_failure(b"some other output\n") is None


def _run_filter(program: bytes, arch: int, nr: int, flags: int) -> int:
    """A classic-BPF interpreter for the instructions the filter uses, over one seccomp_data."""
    import struct

    data = struct.pack("=iIQ6Q", nr, arch, 0, flags, 0, 0, 0, 0, 0)
    code = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = code[pc]
        if op == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
        elif op == 0x06:
            return int(k)
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[op]
            pc += jt if taken else jf
        pc += 1


def test_the_seccomp_program_refuses_user_namespaces_only() -> None:
    program = sandbox.no_user_namespaces("x86_64")
    assert program is not None
    x86, other_abi, allow = 0xC000003E, 0x40000003, 0x7FFF0000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    newuser = sandbox.CLONE_NEWUSER
    assert _run_filter(program, x86, 272, newuser) == eperm  # unshare(CLONE_NEWUSER)
    assert _run_filter(program, x86, 272, newuser | 0x20000) == eperm
    assert _run_filter(program, x86, 56, newuser) == eperm  # clone(CLONE_NEWUSER | ...)
    assert _run_filter(program, x86, 56, 0x3D0F00) == allow  # a thread
    assert _run_filter(program, x86, 272, 0x20000) == allow  # unshare(CLONE_NEWNS) is the kernel's to refuse
    assert _run_filter(program, x86, 435, 0) == enosys  # clone3: libc falls back to clone
    assert _run_filter(program, x86, 0x40000000 + 272, newuser) == eperm  # the x32 ABI
    assert _run_filter(program, x86, 0, 0) == allow and _run_filter(program, x86, 59, 0) == allow
    assert _run_filter(program, other_abi, 310, newuser) == eperm  # i386's unshare: other ABIs are refused
    assert _run_filter(program, other_abi, 20, 0) == eperm
    assert sandbox.no_user_namespaces("riscv64") is None


def test_the_kernel_tells_a_loopback_sockets_owner() -> None:
    """What the Runtime API's and the API's peer checks stand on (probe() gives up per-environment uids
    where it fails): real sockets, the kernel's answer."""
    assert sandbox.peer_lookup_works()
