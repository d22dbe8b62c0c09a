"""CloudWatch Logs over function logs: `aws logs tail` (CLI v2, also --follow) shows a function's output;
describe-log-groups/-streams, get-log-events and filter-log-events with boto3 (AWS's group, stream and
message shapes; END on its own line; a traceback one multi-line event); retention kept across restarts
and enforced (old rotated files deleted)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_lambda_helpers import create
from tests.support.awscli import V2_PATH
from tests.support.server import LambdaliteProcess, module_server, wait_until

server = module_server("logs-api", env={"LAMBDALITE_LOG_MAX_BYTES": "4096", "LAMBDALITE_LOG_KEEP_FILES": "2"})
STREAM = re.compile(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}")

PRINTER = """
import sys

def handler(event, context):
    print("hello from", event.get("who"))
    if event.get("fail"):
        raise ValueError("boom")
    sys.stdout.write("no newline")
    sys.stdout.flush()
    return {}
"""

CHATTY = """
def handler(event, context):
    print("x" * 1500)
    return {}
"""


def _invoke(lam: Any, name: str, payload: bytes) -> str:
    out = lam.invoke(FunctionName=name, Payload=payload)
    return str(out["ResponseMetadata"]["RequestId"])


def _all_events(logs: Any, group: str) -> list[dict[str, Any]]:
    return list(logs.filter_log_events(logGroupName=group)["events"])


def _cli(server: LambdaliteProcess, *args: str) -> tuple[list[str], dict[str, str]]:
    """AWS CLI v2's command line and environment (tail is a v2 command)."""
    if not V2_PATH.exists():
        pytest.skip("AWS CLI v2 is not installed (scripts/setup installs Debian's awscli)")
    env = {**server.cli_env(), "PATH": "/usr/bin:/bin"}
    return [str(V2_PATH), "--endpoint-url", server.endpoint, *args], env


def test_describe_get_and_filter(server: LambdaliteProcess) -> None:
    lam, logs = server.client("lambda"), server.client("logs")
    create(lam, "printer", source=PRINTER)
    ok_id = _invoke(lam, "printer", b'{"who": "boto3"}')
    failed_id = _invoke(lam, "printer", b'{"who": "again", "fail": true}')
    group = "/aws/lambda/printer"
    wait_until(lambda: any("REPORT RequestId: " + failed_id in e["message"] for e in _all_events(logs, group)),
               timeout_s=20, what="the second invocation's REPORT")

    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/pr")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/printer:*"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) >= 1 and all(STREAM.fullmatch(s["logStreamName"]) for s in streams)

    events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"],
                                 startFromHead=True)
    messages = [e["message"] for e in events["events"]]
    assert messages[0] == f"START RequestId: {ok_id} Version: $LATEST\n"
    assert "hello from boto3\n" in messages
    assert "no newline\n" in messages and f"END RequestId: {ok_id}\n" in messages  # END on its own line
    assert any(m.startswith(f"REPORT RequestId: {ok_id}\tDuration: ") for m in messages)
    again = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"],
                                nextToken=events["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == events["nextForwardToken"]

    errors = logs.filter_log_events(logGroupName=group, filterPattern='"[ERROR]"')["events"]
    assert len(errors) == 1
    lines = errors[0]["message"].splitlines()
    assert lines[0] == "[ERROR] ValueError: boom" and lines[1] == "Traceback (most recent call last):"
    assert STREAM.fullmatch(errors[0]["logStreamName"]) and errors[0]["eventId"]
    only_boto = logs.filter_log_events(logGroupName=group, filterPattern="hello -again")["events"]
    assert [e["message"] for e in only_boto] == ["hello from boto3\n"]

    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName="/aws/lambda/nobody")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_aws_logs_tail_shows_output_and_follows(server: LambdaliteProcess) -> None:
    lam = server.client("lambda")
    create(lam, "tailed", source=PRINTER)
    _invoke(lam, "tailed", b'{"who": "before-tail"}')
    cmd, env = _cli(server, "logs", "tail", "/aws/lambda/tailed", "--format", "short")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hello from before-tail" in done.stdout
    assert re.search(r"^\S+ END RequestId: \S+$", done.stdout, re.M)

    follow, env = _cli(server, "logs", "tail", "/aws/lambda/tailed", "--follow", "--format", "short")
    out_path = server.data_dir.parent / "tail-follow.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(follow, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "before-tail" in out_path.read_text(), timeout_s=30, what="tail --follow's first page")
            _invoke(lam, "tailed", b'{"who": "while-following"}')
            wait_until(lambda: "hello from while-following" in out_path.read_text(), timeout_s=30,
                       what="tail --follow showing a later invocation")
        finally:
            proc.kill()
            proc.wait(timeout=10)


def test_retention_survives_restart_and_deletes_old_files(server: LambdaliteProcess) -> None:
    lam, logs = server.client("lambda"), server.client("logs")
    create(lam, "chatty-logs", source=CHATTY)
    for _ in range(6):
        _invoke(lam, "chatty-logs", b"{}")
    rotated = server.data_dir / "logs" / "chatty-logs.log.2"
    wait_until(rotated.exists, timeout_s=20, what="a second rotated log file")
    group = "/aws/lambda/chatty-logs"
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    old_s = time.time() - 10 * 86400
    os.utime(rotated, (old_s, old_s))
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert not rotated.exists()
    assert (server.data_dir / "logs" / "chatty-logs.log.1").exists()

    server.restart()
    logs = server.client("logs")
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 7
    older = server.data_dir / "logs" / "chatty-logs.log.1"
    os.utime(older, (old_s, old_s))
    wait_until(lambda: not older.exists(), timeout_s=30, what="the maintenance loop enforcing the retention")
    logs.delete_retention_policy(logGroupName=group)
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in described


def test_create_and_delete_log_groups(server: LambdaliteProcess) -> None:
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/custom/app", tags={"team": "a"})
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="/custom/app")
    assert exc.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/custom/app"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    assert logs.describe_log_streams(logGroupName="/custom/app")["logStreams"] == []
    logs.delete_log_group(logGroupName="/custom/app")
    assert logs.describe_log_groups(logGroupNamePrefix="/custom/")["logGroups"] == []
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName="/custom/app")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
