"""Function logs on PostgreSQL: a worker runs the function, and the API node (another data folder, same
database) shows its logs through the CloudWatch Logs API and `lambdalite logs [--follow]`, and deletes them
with the group; nothing is written to the worker's data folder."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_lambda_helpers import create
from tests.support import postgres
from tests.support.server import LambdaliteProcess, free_port, wait_until

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")
STREAM = re.compile(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}")
GROUP = "/aws/lambda/pg-printer"

PRINTER = """
def handler(event, context):
    print("printed on the worker:", event["who"])
    if event.get("fail"):
        raise ValueError("boom")
    return {}
"""


@pytest.fixture
def database() -> Iterator[str]:
    url = postgres.server().fresh_database()
    yield url
    postgres.server().drop_database(url)


def _events(logs: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """The group's events; none while the group does not exist yet (it appears with the first logs)."""
    try:
        return list(logs.filter_log_events(logGroupName=GROUP, **kwargs)["events"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []


def _reports(logs: Any) -> set[str]:
    """`REPORT RequestId: ID` of every REPORT line in the group."""
    return {e["message"].split("\t")[0] for e in _events(logs) if e["message"].startswith("REPORT")}


def _invoke_event(lam: Any, payload: bytes) -> str:
    answer = lam.invoke(FunctionName="pg-printer", InvocationType="Event", Payload=payload)
    assert answer["StatusCode"] == 202
    return str(answer["ResponseMetadata"]["RequestId"])


def _logs_cli(node: LambdaliteProcess, database: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "lambdalite", "logs", "pg-printer", *flags, "--data-dir", str(node.data_dir),
            "--store", database]


def test_the_api_node_shows_what_a_worker_printed(tmp_path: Path, database: str) -> None:
    api = LambdaliteProcess(tmp_path / "api", store=database, args=["--no-dispatch"]).start()
    worker = LambdaliteProcess(tmp_path / "worker", role="worker", port=free_port(), store=database,
                               env={"LAMBDALITE_ENDPOINT_URL": api.endpoint}).start()
    try:
        lam, logs = api.client("lambda"), api.client("logs")
        create(lam, "pg-printer", source=PRINTER)
        lam.put_function_event_invoke_config(FunctionName="pg-printer", MaximumRetryAttempts=0)  # one run each
        ok_id = _invoke_event(lam, b'{"who": "first"}')
        wait_until(lambda: f"REPORT RequestId: {ok_id}" in _reports(logs), timeout_s=30, what="the first REPORT")
        # (one after the other: the text `lambdalite logs` prints interleaves concurrent runs' writes)
        failed_id = _invoke_event(lam, b'{"who": "second", "fail": true}')
        wait_until(lambda: f"REPORT RequestId: {failed_id}" in _reports(logs), timeout_s=30, what="the second REPORT")

        [group] = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
        assert group["logGroupName"] == GROUP and group["storedBytes"] > 0
        streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
        assert streams and all(STREAM.fullmatch(s["logStreamName"]) for s in streams)
        ok_stream = next(e["logStreamName"] for e in _events(logs) if e["message"].startswith(f"START RequestId: {ok_id}"))
        got = logs.get_log_events(logGroupName=GROUP, logStreamName=ok_stream, startFromHead=True)["events"]
        messages = [e["message"] for e in got]
        start = messages.index(f"START RequestId: {ok_id} Version: $LATEST\n")
        assert messages[start + 1] == "printed on the worker: first\n"
        assert messages[start + 2] == f"END RequestId: {ok_id}\n"
        assert messages[start + 3].startswith(f"REPORT RequestId: {ok_id}\tDuration: ")
        [error] = _events(logs, filterPattern='"[ERROR]"')
        assert error["message"].splitlines()[:2] == ["[ERROR] ValueError: boom", "Traceback (most recent call last):"]
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=7)  # today's text stays
        assert len(_events(logs, filterPattern='"printed on the worker"')) == 2
        assert not (worker.data_dir / "logs" / "pg-printer.log").exists()  # the text is in the database

        printed = subprocess.run(_logs_cli(api, database), capture_output=True, text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        for line in (f"START RequestId: {ok_id} Version: $LATEST", "printed on the worker: first",
                     f"END RequestId: {ok_id}", f"REPORT RequestId: {failed_id}", "[ERROR] ValueError: boom"):
            assert line in printed.stdout.splitlines() or line in printed.stdout

        out_path = tmp_path / "follow.out"
        with open(out_path, "w") as out:
            follow = subprocess.Popen(_logs_cli(api, database, "--follow"), stdout=out, stderr=subprocess.STDOUT)
            try:
                wait_until(lambda: f"END RequestId: {ok_id}" in out_path.read_text(), timeout_s=30,
                           what="--follow's text so far")
                later_id = _invoke_event(lam, b'{"who": "later"}')
                wait_until(lambda: f"REPORT RequestId: {later_id}" in out_path.read_text(), timeout_s=30,
                           what="--follow showing a later run on the worker")
            finally:
                follow.kill()
                follow.wait(timeout=10)
        assert "printed on the worker: later" in out_path.read_text()

        logs.delete_log_group(logGroupName=GROUP)  # on the API node: the worker's text goes too
        assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"] == []
        gone = subprocess.run(_logs_cli(api, database), capture_output=True, text=True, timeout=60)
        assert gone.returncode == 1 and "no logs for function 'pg-printer'" in gone.stderr, gone.stdout
    finally:
        worker.kill()
        api.kill()
