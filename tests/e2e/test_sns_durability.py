"""Nothing lost: a Publish answered 200 has every subscription's delivery on disk. kill -9 the server
right after a burst of Publishes (its delivery loop held back, so nothing was delivered before), restart:
every message reaches the function; and a burst with deliveries running when the kill lands."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.e2e.async_support import create_recorder, records
from tests.e2e.test_sns_helpers import ACCOUNT, FAST_ENV, REGION
from tests.support.server import LambdaliteProcess, wait_until

BURST = 60


def _setup(proc: LambdaliteProcess, tmp_path: Path) -> tuple[Any, str, Path]:
    sns, lam = proc.client("sns"), proc.client("lambda")
    path = tmp_path / "records.jsonl"
    create_recorder(lam, "sns-target", path)
    topic = sns.create_topic(Name="durable")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda",
                  Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sns-target")
    return sns, topic, path


def _burst(sns: Any, topic: str) -> set[str]:
    def one(i: int) -> str:
        return str(sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"])

    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(one, range(BURST)))


def _delivered(path: Path) -> set[str]:
    return {r["event"]["Records"][0]["Sns"]["MessageId"] for r in records(path)}


def test_publishes_survive_kill_9_before_any_delivery(start_server: Any, tmp_path: Path) -> None:
    proc: LambdaliteProcess = start_server(env={**FAST_ENV, "LAMBDALITE_DELIVERY_START_DELAY": "3600"})
    sns, topic, path = _setup(proc, tmp_path)
    published = _burst(sns, topic)
    proc.kill()
    assert _delivered(path) == set()  # nothing ran before the kill: the window was held open
    report = subprocess.run([sys.executable, "-m", "lambdalite", "queue", "--data-dir", str(proc.data_dir)],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    row = next(line.split() for line in report.splitlines() if line.startswith(topic))
    assert row[1:4] == [str(BURST), "0", "0"]  # `lambdalite queue`: the topic's pending deliveries
    proc.env["LAMBDALITE_DELIVERY_START_DELAY"] = "0"
    proc.start()
    wait_until(lambda: _delivered(path) >= published, timeout_s=120, what="every published message's function run")
    assert _delivered(path) == published


def test_publishes_survive_kill_9_mid_delivery(start_server: Any, tmp_path: Path) -> None:
    proc: LambdaliteProcess = start_server(env=FAST_ENV)
    sns, topic, path = _setup(proc, tmp_path)
    published = _burst(sns, topic)
    proc.kill()
    proc.start()
    wait_until(lambda: _delivered(path) >= published, timeout_s=120, what="every published message's function run")


def test_an_api_process_and_workers_share_the_deliveries(tmp_path: Path) -> None:
    """`serve --no-dispatch` takes the Publishes; two `lambdalite worker`s on the same data folder deliver
    them, each message once to the function (at least once: duplicates would show as extra records)."""
    data_dir = tmp_path / "data"
    api = LambdaliteProcess(data_dir, env=FAST_ENV, args=["--no-dispatch"]).start()
    workers = [LambdaliteProcess(data_dir, role="worker", env={**FAST_ENV, "LAMBDALITE_ENDPOINT_URL": api.endpoint})
               .start() for _ in range(2)]
    try:
        sns, topic, path = _setup(api, tmp_path)
        published = _burst(sns, topic)
        wait_until(lambda: _delivered(path) >= published, timeout_s=120, what="every message's function run")
        record = records(path)[0]["event"]["Records"][0]["Sns"]
        assert record["UnsubscribeUrl"].startswith(api.endpoint + "/?Action=Unsubscribe")
    finally:
        for proc in (*workers, api):
            proc.kill()
