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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from tests.e2e.async_support import ROLE, RUNTIME, event_invoke, records
from tests.support.server import HEALTH_PATH, LambdaliteProcess, shared_file, wait_until
from tests.support.zips import python_zip

T = TypeVar("T")
VOLUME_MB = 48
FLOOR_MB = 16
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


# Waits while the gate file exists (the backlog builds up), then records the event's request id.
GATED = """
import json, os, time

def handler(event, context):
    while os.path.exists(os.environ["GATE"]):
        time.sleep(0.05)
    with open(os.environ["RECORD_PATH"], "a") as f:
        f.write(json.dumps({"id": context.aws_request_id}) + "\\n")
"""


def health(proc: LambdaliteProcess) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(proc.endpoint + HEALTH_PATH, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def fill(lam: Any, function: str, accepted: list[str]) -> None:
    """Accept events until the floor refuses one (with Lambda's retryable 429 naming disk space)."""
    for i in range(1000):
        try:
            accepted.append(event_invoke(lam, function, {"i": i, "pad": PAD}))
        except ClientError as err:
            response = err.response
            assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
                "TooManyRequestsException", 429), response
            assert "disk space" in response["Error"]["Message"]
            return
    raise AssertionError(f"{len(accepted)} events of 200 KB were accepted on a {VOLUME_MB} MB volume")


def when_low(lam: Any, accepted: list[str], probe: Callable[[], T | None]) -> T:
    """`probe()` right after the floor refused an event. The WAL's truncation can free a few MB at any
    moment, so a probe that came just after it (and found room) is tried again after a refill."""
    for _ in range(10):
        fill(lam, "filler", accepted)
        found = probe()
        if found is not None:
            return found
    raise AssertionError(f"{probe} never saw the floor")


def refusal(call: Any, **kwargs: Any) -> Callable[[], tuple[str, int, str] | None]:
    def probe() -> tuple[str, int, str] | None:
        try:
            call(**kwargs)
        except ClientError as err:
            response = err.response
            return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]
        return None

    return probe


def test_a_full_volume_refuses_new_events_and_drains_its_backlog(small_volume: Path, tmp_path: Path) -> None:
    proc = LambdaliteProcess(small_volume / "data", env=ENV)
    proc.log_path = tmp_path / "server.log"  # the server's own log off the small volume
    proc.start()
    try:
        lam, sqs, ev = proc.client("lambda"), proc.client("sqs"), proc.client("events")
        record_path = tmp_path / "records.jsonl"
        gate = shared_file(tmp_path / "gate")
        lam.create_function(FunctionName="filler", Runtime=RUNTIME, Role=ROLE, Handler="handler.handler",
                            Code={"ZipFile": python_zip(GATED)}, Timeout=300, Environment={"Variables": {
                                "RECORD_PATH": shared_file(record_path), "GATE": gate}})
        lam.put_function_concurrency(FunctionName="filler", ReservedConcurrentExecutions=1)
        queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]

        accepted: list[str] = []
        fill(lam, "filler", accepted)
        assert len(accepted) >= 10, "the volume filled before events could be accepted"
        print(f"{len(accepted)} events of 200 KB accepted before the floor")
        body = when_low(lam, accepted, lambda: (lambda h: h[1] if h[0] == 503 else None)(health(proc)))
        assert body["status"] == "disk_low" and "MiB free" in body["detail"], body
        code, http_status, message = when_low(lam, accepted, refusal(sqs.send_message, QueueUrl=queue_url,
                                                                     MessageBody="m"))
        assert (code, http_status) == ("RequestThrottled", 403) and "disk space" in message
        code, http_status, message = when_low(lam, accepted, refusal(ev.put_events, Entries=[
            {"Source": "s", "DetailType": "d", "Detail": "{}"}]))
        assert (code, http_status) == ("ThrottlingException", 400) and "disk space" in message
        sqs.receive_message(QueueUrl=queue_url)  # reads go on
        assert lam.get_function(FunctionName="filler")["Configuration"]["FunctionName"] == "filler"

        os.remove(gate)  # the backlog drains, without any space added

        def all_ran() -> bool:
            return set(accepted) <= {r["id"] for r in records(record_path)}

        wait_until(all_ran, timeout_s=180, what=f"all {len(accepted)} accepted events to run")
        # Outcomes past their retention are pruned and the free pages given back: accepts resume.
        wait_until(lambda: health(proc)[0] == 200, timeout_s=60, what="health back to ok")
        assert event_invoke(lam, "filler", {"after": True})
        assert "disk is full" not in proc.log_text()  # the floor kept every write of the drain possible
    finally:
        proc.kill()
