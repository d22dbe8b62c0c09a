"""SNS on PostgreSQL end to end: an API node and a worker on separate data folders share one database.
The worker delivers what the API node's Publish committed, with the signing key and certificate every
node agreed on (the envelope verifies against the API node's certificate URL), and a lambda subscription's
function runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.async_support import create_recorder, records
from tests.e2e.test_sns_helpers import (
    ACCOUNT,
    FAST_ENV,
    REGION,
    make_queue,
    make_topic,
    receive,
    subscribe_queue,
    verify_signature,
)
from tests.support import postgres
from tests.support.server import LambdaliteProcess, free_port, wait_until

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")


@pytest.fixture
def database() -> Iterator[str]:
    url = postgres.server().fresh_database()
    yield url
    postgres.server().drop_database(url)


def test_a_worker_on_another_data_folder_delivers_signed_with_the_shared_key(tmp_path: Path, database: str) -> None:
    api = LambdaliteProcess(tmp_path / "api", env=FAST_ENV, store=database, args=["--no-dispatch"]).start()
    worker = LambdaliteProcess(tmp_path / "worker", role="worker", port=free_port(), store=database,
                               env={**FAST_ENV, "LAMBDALITE_ENDPOINT_URL": api.endpoint}).start()
    try:
        sns, sqs, lam = api.client("sns"), api.client("sqs"), api.client("lambda")
        url, queue = make_queue(sqs)
        topic = make_topic(sns)
        subscribe_queue(sns, topic, queue)
        path = tmp_path / "records.jsonl"
        create_recorder(lam, "pg-sns-target", path)
        sns.subscribe(TopicArn=topic, Protocol="lambda",
                      Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pg-sns-target")
        message_id = sns.publish(TopicArn=topic, Message="across nodes")["MessageId"]

        [message] = receive(sqs, url, 1)
        envelope = json.loads(message["Body"])
        assert envelope["MessageId"] == message_id
        assert envelope["SigningCertURL"].startswith(api.endpoint + "/SimpleNotificationService-")
        verify_signature(envelope)  # signed by the worker, verified with the API node's certificate
        [record] = wait_until(lambda: records(path), what="the function's run")
        assert record["event"]["Records"][0]["Sns"]["MessageId"] == message_id
    finally:
        worker.kill()
        api.kill()
