"""S3 under stress: notifications survive a kill -9 right after their PUTs got 200, and a 100 MB object
goes up and down without the server's memory growing with it (bodies stream to and from files)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.async_support import create_recorder, records
from tests.e2e.test_destinations_helpers import function_arn
from tests.support.server import LambdaliteProcess, wait_until

BURST = 40
BIG_BYTES = 100 * 1024 * 1024
RSS_LIMIT_BYTES = 150 * 1024 * 1024


def test_kill_9_after_a_burst_of_puts_every_function_runs(start_server: Any, tmp_path: Path) -> None:
    # The job loop waits a minute before delivering: every notification is still queued at the kill.
    first: LambdaliteProcess = start_server(env={"LAMBDALITE_DELIVERY_START_DELAY": "60"})
    s3, lam = first.client("s3"), first.client("lambda")
    record_path = tmp_path / "events.jsonl"
    create_recorder(lam, "burst-recorder", record_path)
    s3.create_bucket(Bucket="burst")
    s3.put_bucket_notification_configuration(Bucket="burst", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn("burst-recorder", None),
                                          "Events": ["s3:ObjectCreated:*"]}]})
    keys = [f"k/{n:03d}" for n in range(BURST)]
    for key in keys:
        assert s3.put_object(Bucket="burst", Key=key, Body=key.encode())["ResponseMetadata"]["HTTPStatusCode"] == 200
    first.kill()
    assert records(record_path) == []
    queued = subprocess.run([sys.executable, "-m", "lambdalite", "queue", "--data-dir", str(first.data_dir)],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert re.search(rf"^S3 BUCKET +QUEUED.*\nburst +{BURST} +0 +0 ", queued, re.M), queued
    second = LambdaliteProcess(first.data_dir, port=first.port).start()
    try:
        def ran() -> set[str]:
            return {r["event"]["Records"][0]["s3"]["object"]["key"] for r in records(record_path)}

        wait_until(lambda: ran() == set(keys), timeout_s=60, what="every PUT's function run")
        assert second.client("s3").get_object(Bucket="burst", Key=keys[-1])["Body"].read() == keys[-1].encode()
    finally:
        second.kill()


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_100_mb_object_up_and_down_in_bounded_memory(server: LambdaliteProcess, tmp_path: Path) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="big")
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(BIG_BYTES // (1024 * 1024)):
            out.write(os.urandom(1024 * 1024))
    with open(source, "rb") as body:  # one PUT of 100 MB, streamed by the client
        s3.put_object(Bucket="big", Key="one-put", Body=body)
    s3.upload_file(str(source), "big", "multipart")  # the transfer manager: 8 MiB parts
    for key in ("one-put", "multipart"):
        got = s3.get_object(Bucket="big", Key=key)
        assert got["ContentLength"] == BIG_BYTES
        target = tmp_path / f"{key}.out"
        with open(target, "wb") as out:
            for chunk in got["Body"].iter_chunks(1024 * 1024):
                out.write(chunk)
        assert target.stat().st_size == BIG_BYTES
        with open(source, "rb") as a, open(target, "rb") as b:
            while chunk := a.read(8 * 1024 * 1024):
                assert chunk == b.read(8 * 1024 * 1024)
    assert server.proc is not None
    peak = peak_rss_bytes(server.proc.pid)
    assert peak < RSS_LIMIT_BYTES, f"server peak RSS {peak / 2**20:.0f} MiB"
