"""A busy worker stops promptly on SIGTERM, and what it had not finished runs after it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.support.server import LambdaliteProcess, shared_file, wait_until
from tests.support.zips import python_zip

HANDLER = """
import os, time

def handler(event, context):
    time.sleep(0.02)
    with open(os.environ["RAN_LOG"], "a") as f:
        f.write(context.aws_request_id + "\\n")
    return event
"""


def test_busy_worker_stops_on_sigterm_and_nothing_is_lost(tmp_path: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    ran = tmp_path / "ran.log"
    env = {"LAMBDALITE_LEASE_SECONDS": "2"}
    api = start_server(data_dir=data, args=["--no-dispatch"], env=env)
    lam = api.client("lambda")
    lam.create_function(FunctionName="slowish", Runtime="python3.11", Handler="handler.handler",
                        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": python_zip(HANDLER)},
                        Environment={"Variables": {"RAN_LOG": shared_file(ran)}})
    accepted = {lam.invoke(FunctionName="slowish", InvocationType="Event", Payload=json.dumps({"i": i}))
                ["ResponseMetadata"]["RequestId"] for i in range(300)}

    worker = LambdaliteProcess(data, role="worker", env=env).start()
    wait_until(lambda: ran.exists() and len(ran.read_text().split()) >= 20, timeout_s=60, what="events running")
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGTERM)
    started_s = time.monotonic()
    worker.proc.wait(timeout=30)
    assert time.monotonic() - started_s < 15, "the worker took too long to stop"
    assert len(set(ran.read_text().split())) < len(accepted), "the worker finished everything before stopping"

    second = LambdaliteProcess(data, role="worker", env=env).start()
    try:
        wait_until(lambda: accepted <= set(ran.read_text().split()), timeout_s=120, what="every event ran")
    finally:
        second.kill()
