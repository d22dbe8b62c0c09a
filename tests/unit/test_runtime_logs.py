"""Log lines, exit wording and `lambdalite logs` (interpreter resolution: test_interpreters.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from lambdalite.runtime import logs
from lambdalite.runtime.process import exit_reason
from lambdalite.settings import Settings


def test_report_line_formats() -> None:
    assert logs.report_line("id", 1.234, 128, 40, 80.0) == (
        b"REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        b"Max Memory Used: 40 MB\tInit Duration: 80.00 ms\n")
    assert logs.report_line("id", 0.2, 256, 30) == (
        b"REPORT RequestId: id\tDuration: 0.20 ms\tBilled Duration: 1 ms\tMemory Size: 256 MB\t"
        b"Max Memory Used: 30 MB\n")
    assert logs.report_line("id", 1000.5, 128, 50, status="timeout").endswith(b"\tStatus: timeout\n")
    assert logs.report_line("id", 5, 128, 129, status="error", error_type="Runtime.OutOfMemory").endswith(
        b"\tStatus: error\tError Type: Runtime.OutOfMemory\n")
    assert logs.start_line("id", "$LATEST") == b"START RequestId: id Version: $LATEST\n"
    assert logs.end_line("id") == b"END RequestId: id\n"


def test_exit_reason_uses_go_wording() -> None:
    assert exit_reason(1) == "exit status 1"
    assert exit_reason(0) == "exit status 0"
    assert exit_reason(-signal.SIGKILL) == "signal: killed"
    assert exit_reason(-signal.SIGSEGV) == "signal: segmentation fault"


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lambdalite", "logs", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def test_logs_cli(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.logs_dir.mkdir(parents=True)
    (settings.logs_dir / "fn.log").write_bytes(b"START RequestId: x Version: $LATEST\nhello\n"
                                               b"[ERROR] E: x\rTraceback (most recent call last):\n")
    shown = _cli(settings.data_dir, "fn")
    assert shown.returncode == 0 and shown.stdout == ("START RequestId: x Version: $LATEST\nhello\n"
                                                      "[ERROR] E: x\nTraceback (most recent call last):\n")
    missing = _cli(settings.data_dir, "nope")
    assert missing.returncode == 1 and "no logs for function 'nope'" in missing.stderr
    assert _cli(settings.data_dir, "../etc").returncode == 1
