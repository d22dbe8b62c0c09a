"""Function logs as AWS writes them and bounded on disk: END on a line of its own whatever the function
printed last, and log files rotated at a size so a chatty function cannot fill the disk."""

from __future__ import annotations

import base64
import subprocess
import sys

from tests.e2e.test_lambda_helpers import create
from tests.support.server import LambdaliteProcess, module_server, wait_until

server = module_server("function-logs", env={"LAMBDALITE_LOG_MAX_BYTES": "4096", "LAMBDALITE_LOG_KEEP_FILES": "2"})

UNFINISHED = """
import sys

def handler(event, context):
    sys.stdout.write("no newline at the end")
    sys.stdout.flush()
    return {}
"""

CHATTY = """
def handler(event, context):
    print("x" * 1500)
    return {}
"""


def _lines(text: str) -> list[str]:
    return text.replace("\r", "\n").split("\n")


def test_end_is_on_its_own_line_after_output_without_a_newline(server: LambdaliteProcess) -> None:
    lam = server.client("lambda")
    create(lam, "unfinished-line", source=UNFINISHED)
    answer = lam.invoke(FunctionName="unfinished-line", LogType="Tail")
    request_id = answer["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert f"END RequestId: {request_id}" in _lines(tail)
    assert "no newline at the end" in _lines(tail)
    path = server.data_dir / "logs" / "unfinished-line.log"
    wait_until(lambda: path.exists() and f"END RequestId: {request_id}" in _lines(path.read_text()),
               timeout_s=10, what="END on a line of its own in the log file")


def test_logs_rotate_at_the_size_limit_keeping_the_newest(server: LambdaliteProcess) -> None:
    lam = server.client("lambda")
    create(lam, "chatty", source=CHATTY)
    request_ids = []
    for _ in range(20):  # about 1.8 kB each: 36 kB in all, nine times the limit
        request_ids.append(lam.invoke(FunctionName="chatty")["ResponseMetadata"]["RequestId"])
    logs = server.data_dir / "logs"

    def rotated() -> bool:
        files = sorted(p.name for p in logs.glob("chatty.log*"))
        return files == ["chatty.log", "chatty.log.1", "chatty.log.2"]

    wait_until(rotated, timeout_s=10, what="chatty.log with two rotated files, no more")
    assert all(p.stat().st_size < 4096 + 2048 for p in logs.glob("chatty.log*"))
    wait_until(lambda: f"REPORT RequestId: {request_ids[-1]}" in (logs / "chatty.log").read_text(), timeout_s=10,
               what="the last invocation flushed")
    printed = subprocess.run([sys.executable, "-m", "lambdalite", "logs", "chatty", "--data-dir", str(server.data_dir)],
                             capture_output=True, text=True, timeout=30).stdout
    shown = [rid for rid in request_ids if f"START RequestId: {rid}" in printed]
    assert shown == request_ids[-len(shown):] and request_ids[-1] in shown  # the newest, oldest first
    assert len(shown) < len(request_ids)  # the oldest were dropped: the disk use is bounded

