"""A data folder on a small volume (a size-limited tmpfs): accepted events fill it to the free-space floor,
then new accepts get each service's retryable throttling error and health says so, while the backlog
drains without any space added and no 202'd event is lost; once pruning and vacuum gave the space back,
accepts resume."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.async_support import create_recorder, event_invoke, records
from tests.support.server import HEALTH_PATH, LambdaliteProcess, wait_until

VOLUME_MB = 40
FLOOR_MB = 12
PAD = "x" * 200_000  # each event holds ~200 KB
ENV = {"LAMBDALITE_MIN_FREE_DISK_MB": str(FLOOR_MB), "LAMBDALITE_LOG_LEVEL": "warning",
       "LAMBDALITE_OUTCOME_RETENTION_SECONDS": "2", "LAMBDALITE_LEASE_SECONDS": "3", "LAMBDA_RETRY_BASE_DELAY": "1"}


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mount_point = tmp_path / "volume"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={VOLUME_MB}m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def health(proc: LambdaliteProcess) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(proc.endpoint + HEALTH_PATH, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def fill(lam: Any, function: str) -> list[str]:
    """Accept events until the floor refuses one; the accepted request ids."""
    accepted: list[str] = []
    for i in range(1000):
        try:
            accepted.append(event_invoke(lam, function, {"i": i, "sleep": 0.05, "pad": PAD}))
        except ClientError as err:
            response = err.response
            assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
                "TooManyRequestsException", 429), response
            assert "disk space" in response["Error"]["Message"]
            return accepted
    raise AssertionError(f"{len(accepted)} events of 200 KB were accepted on a {VOLUME_MB} MB volume")


def test_a_full_volume_refuses_new_events_and_drains_its_backlog(small_volume: Path, tmp_path: Path) -> None:
    proc = LambdaliteProcess(small_volume / "data", env=ENV)
    proc.log_path = tmp_path / "server.log"  # the server's own log off the small volume
    proc.start()
    try:
        lam, sqs, ev = proc.client("lambda"), proc.client("sqs"), proc.client("events")
        record_path = tmp_path / "records.jsonl"
        create_recorder(lam, "filler", record_path, timeout_s=30)
        lam.put_function_concurrency(FunctionName="filler", ReservedConcurrentExecutions=1)
        queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]

        accepted = fill(lam, "filler")
        assert len(accepted) >= 10, "the volume filled before events could be accepted"
        print(f"{len(accepted)} events of 200 KB accepted before the floor")
        status, body = health(proc)
        assert (status, body["status"]) == (503, "disk_low"), body
        code, http_status, message = error_of(sqs.send_message, QueueUrl=queue_url, MessageBody="m")
        assert (code, http_status) == ("RequestThrottled", 403) and "disk space" in message
        code, http_status, message = error_of(ev.put_events, Entries=[{"Source": "s", "DetailType": "d",
                                                                       "Detail": "{}"}])
        assert (code, http_status) == ("ThrottlingException", 400) and "disk space" in message
        sqs.receive_message(QueueUrl=queue_url)  # reads go on
        assert lam.get_function(FunctionName="filler")["Configuration"]["FunctionName"] == "filler"

        def all_ran() -> bool:
            return set(accepted) <= {r["id"] for r in records(record_path)}

        wait_until(all_ran, timeout_s=180, what=f"all {len(accepted)} accepted events to run")
        # Outcomes past their retention are pruned and the free pages given back: accepts resume.
        wait_until(lambda: health(proc)[0] == 200, timeout_s=60, what="health back to ok")
        assert event_invoke(lam, "filler", {"after": True})
        assert "disk is full" not in proc.log_text()  # the floor kept every write of the drain possible
    finally:
        proc.kill()
