"""S3 on the PostgreSQL store: metadata and notification jobs in the database, bodies in the data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.test_destinations_helpers import FAST_ENV, create_queue, queue_arn, receive_one
from tests.support import postgres
from tests.support.server import LambdaliteProcess

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")


@pytest.fixture
def database() -> Iterator[str]:
    with postgres.database() as url:
        yield url


def test_objects_and_notifications_on_postgresql(tmp_path: Path, database: str) -> None:
    node = LambdaliteProcess(tmp_path / "data", env=FAST_ENV, store=database).start()
    try:
        s3, sqs = node.client("s3"), node.client("sqs")
        url = create_queue(sqs, "pg-s3-events")
        s3.create_bucket(Bucket="pg-bucket")
        s3.put_bucket_notification_configuration(Bucket="pg-bucket", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn("pg-s3-events"), "Events": ["s3:ObjectCreated:*"]}]})
        receive_one(sqs, url)  # the s3:TestEvent
        s3.put_object(Bucket="pg-bucket", Key="dir/é x.txt", Body=b"on postgres")
        record = orjson.loads(receive_one(sqs, url)["Body"])["Records"][0]
        assert record["s3"]["object"]["key"] == "dir/%C3%A9+x.txt"
        assert s3.get_object(Bucket="pg-bucket", Key="dir/é x.txt")["Body"].read() == b"on postgres"
        listed = s3.list_objects_v2(Bucket="pg-bucket", Delimiter="/")
        assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/"]
    finally:
        node.kill()
