"""`lambdalite events`, `events show` and `redrive` (one event, a function's failed events, an SQS DLQ's
messages) against a running server: each redriven event runs exactly once more and the counts match."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.async_support import attempts_of, create_recorder, event_invoke
from tests.support import postgres
from tests.support.server import LambdaliteProcess, wait_until

ENV = {"LAMBDA_RETRY_BASE_DELAY": "0.1", "LAMBDALITE_LEASE_SECONDS": "2"}


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lambdalite", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def cli_json(data_dir: Path, *args: str) -> Any:
    result = cli(data_dir, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def failed_ids(data_dir: Path, function: str, *extra: str) -> set[str]:
    return {row["requestId"] for row in cli_json(data_dir, "events", function, "--status", "failed", *extra)}


def no_retries(client: Any, name: str, **config: Any) -> None:
    client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, **config)


def test_events_show_and_redrive_one_event_then_all_failed_of_a_function(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = LambdaliteProcess(data_dir, env=ENV).start()
    try:
        client = server.client("lambda")
        rec = tmp_path / "f.jsonl"
        create_recorder(client, "f", rec)
        no_retries(client, "f")
        ok = event_invoke(client, "f", {"n": 0})
        bad = [event_invoke(client, "f", {"fail": True, "n": i}) for i in range(3)]
        wait_until(lambda: failed_ids(data_dir, "f") == set(bad), timeout_s=60, what="three failed events")
        succeeded = cli_json(data_dir, "events", "f", "--status", "succeeded")
        assert [row["requestId"] for row in succeeded] == [ok]
        table = cli(data_dir, "events", "--since", "10m").stdout
        assert table.splitlines()[0].split()[:3] == ["REQUEST_ID", "FUNCTION", "STATUS"] and ok in table

        shown = cli_json(data_dir, "events", "show", bad[0])
        assert (shown["status"], json.loads(shown["payload"]), shown["redrivable"]) == (
            "failed", {"fail": True, "n": 0}, True)
        [attempt] = shown["attempts"]
        assert (attempt["run"], attempt["result"], attempt["errorType"], attempt["decision"]) == (
            0, "function_error", "RuntimeError", "ended: RetriesExhausted")
        assert "failing on purpose" in attempt["errorMessage"]

        assert cli_json(data_dir, "redrive", bad[0])["redriven"] == [bad[0]]
        wait_until(lambda: len(attempts_of(rec, bad[0])) == 2, timeout_s=60, what="the redriven event ran again")
        wait_until(lambda: [a["run"] for a in cli_json(data_dir, "events", "show", bad[0])["attempts"]] == [0, 1],
                   timeout_s=60, what="the second run in the history")
        assert cli(data_dir, "redrive", ok).returncode == 1  # a succeeded event is not redriven

        wait_until(lambda: failed_ids(data_dir, "f") == set(bad), timeout_s=60)
        report = cli_json(data_dir, "redrive", "--function", "f")
        assert report["count"] == 3 and set(report["redriven"]) == set(bad)
        wait_until(lambda: [len(attempts_of(rec, rid)) for rid in bad] == [3, 2, 2], timeout_s=60,
                   what="every failed event ran once more")
        assert len(attempts_of(rec, ok)) == 1
    finally:
        server.kill()


def test_redrive_a_dead_letter_queues_messages_back_into_the_function(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = LambdaliteProcess(data_dir, env=ENV).start()
    try:
        client, sqs = server.client("lambda"), server.client("sqs")
        url = sqs.create_queue(QueueName="f-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rec = tmp_path / "g.jsonl"
        create_recorder(client, "g", rec)
        client.update_function_configuration(FunctionName="g", DeadLetterConfig={"TargetArn": dlq_arn})
        wait_until(lambda: client.get_function(FunctionName="g")["Configuration"]["LastUpdateStatus"] == "Successful")
        no_retries(client, "g")
        bad = [event_invoke(client, "g", {"fail": True, "n": i}) for i in range(2)]

        def dlq_count() -> int:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

        wait_until(lambda: dlq_count() == 2, timeout_s=60, what="both events in the DLQ")
        report = cli_json(data_dir, "redrive", "--dlq", "f-dlq", "--function", "g")
        assert report["count"] == 2 and set(report["redriven"]) == set(bad)
        wait_until(lambda: [len(attempts_of(rec, rid)) for rid in bad] == [2, 2], timeout_s=60,
                   what="each DLQ message ran once more, under its request id")
        wait_until(lambda: dlq_count() == 2, timeout_s=60, what="failed again, back in the DLQ")
    finally:
        server.kill()


def test_events_without_data(tmp_path: Path) -> None:
    result = cli(tmp_path / "none", "events")
    assert result.returncode == 1 and "no lambdalite data" in result.stdout


def test_history_is_pruned_after_its_retention(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**ENV, "LAMBDALITE_OUTCOME_RETENTION_SECONDS": "1", "LAMBDALITE_LEASE_SECONDS": "0.6"}
    server = LambdaliteProcess(data_dir, env=env).start()
    try:
        client = server.client("lambda")
        create_recorder(client, "p", tmp_path / "p.jsonl")
        rid = event_invoke(client, "p", {})
        wait_until(lambda: cli(data_dir, "events", "show", rid).returncode == 0, timeout_s=30, what="recorded")
        wait_until(lambda: cli(data_dir, "events", "show", rid).returncode == 1, timeout_s=30,
                   what="the event's history pruned after a second")
        assert cli_json(data_dir, "events", "p") == []
    finally:
        server.kill()


@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")
def test_events_and_redrive_on_postgresql(tmp_path: Path) -> None:
    with postgres.database() as url:
        server = LambdaliteProcess(tmp_path / "data", env=ENV, store=url).start()
        try:
            client = server.client("lambda")
            rec = tmp_path / "pg.jsonl"
            create_recorder(client, "pg", rec)
            no_retries(client, "pg")
            bad = event_invoke(client, "pg", {"fail": True})
            tool_dir = tmp_path / "elsewhere"  # the tools need no data folder: the store is the database
            wait_until(lambda: failed_ids(tool_dir, "pg", "--store", url) == {bad}, timeout_s=60, what="failed")
            assert cli_json(tool_dir, "redrive", bad, "--store", url)["redriven"] == [bad]
            wait_until(lambda: len(attempts_of(rec, bad)) == 2, timeout_s=60, what="the redriven event ran again")
            wait_until(lambda: [a["run"] for a in cli_json(tool_dir, "events", "show", bad, "--store", url)["attempts"]]
                       == [0, 1], timeout_s=60, what="both runs in the history")
        finally:
            server.kill()
