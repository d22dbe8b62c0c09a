"""S3 on the PostgreSQL store: metadata, notification jobs and bodies in the database, so that two API
nodes (`serve --no-dispatch`) with separate data folders serve every object whichever of them took it:
PutObject on one and GetObject (whole and ranged) on the other, a multipart upload whose parts (and an
UploadPartCopy) go to both, CopyObject, DeleteObject, and a 100 MB object up one node and down the other
in bounded memory; a PUT answered 200 outlives its node."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_destinations_helpers import FAST_ENV, create_queue, queue_arn, receive_one
from tests.e2e.test_s3_durability import BIG_BYTES, RSS_LIMIT_BYTES, peak_rss_bytes
from tests.support import postgres
from tests.support.server import LambdaliteProcess

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")

MIB = 1024 * 1024


@pytest.fixture
def database() -> Iterator[str]:
    with postgres.database() as url:
        yield url


@pytest.fixture
def nodes(tmp_path: Path, database: str) -> Iterator[tuple[LambdaliteProcess, LambdaliteProcess]]:
    """Two API nodes on one database, each with its own data folder."""
    a = LambdaliteProcess(tmp_path / "a", env=FAST_ENV, store=database, args=["--no-dispatch"]).start()
    try:
        b = LambdaliteProcess(tmp_path / "b", env=FAST_ENV, store=database, args=["--no-dispatch"]).start()
    except BaseException:
        a.kill()
        raise
    try:
        yield a, b
    finally:
        b.kill()
        a.kill()


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


def _body(s3: Any, key: str, **kwargs: Any) -> bytes:
    data: bytes = s3.get_object(Bucket="shared", Key=key, **kwargs)["Body"].read()
    return data


def test_every_api_node_serves_every_object(nodes: tuple[LambdaliteProcess, LambdaliteProcess]) -> None:
    a, b = nodes[0].client("s3"), nodes[1].client("s3")
    a.create_bucket(Bucket="shared")
    data = os.urandom(3 * MIB + 17)
    a.put_object(Bucket="shared", Key="put-on-a", Body=data)
    assert _body(b, "put-on-a") == data
    assert _body(b, "put-on-a", Range=f"bytes={MIB - 5}-{MIB + 9}") == data[MIB - 5:MIB + 10]
    assert _body(b, "put-on-a", Range="bytes=-7") == data[-7:]

    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB + 3)]
    upload_id = a.create_multipart_upload(Bucket="shared", Key="multipart")["UploadId"]
    etags = [(a if n % 2 else b).upload_part(Bucket="shared", Key="multipart", UploadId=upload_id, PartNumber=n,
                                            Body=part)["ETag"] for n, part in enumerate(parts, start=1)]
    copied = b.upload_part_copy(Bucket="shared", Key="multipart", UploadId=upload_id, PartNumber=3,
                                CopySource={"Bucket": "shared", "Key": "put-on-a"},
                                CopySourceRange=f"bytes=10-{MIB + 20}")["CopyPartResult"]["ETag"]
    b.complete_multipart_upload(Bucket="shared", Key="multipart", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate([*etags, copied], start=1)]})
    assert _body(a, "multipart") == b"".join(parts) + data[10:MIB + 21]

    b.copy_object(Bucket="shared", Key="copied", CopySource={"Bucket": "shared", "Key": "put-on-a"})
    assert _body(a, "copied") == data
    b.delete_object(Bucket="shared", Key="put-on-a")
    with pytest.raises(ClientError) as missing:
        a.get_object(Bucket="shared", Key="put-on-a")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    assert _body(a, "copied") == data  # the copy owns its bytes
    for node in nodes:  # no node's disk holds a body: only spools pass through it
        assert not (node.data_dir / "s3" / "objects").exists()
        assert list((node.data_dir / "s3" / "tmp").iterdir()) == []


def test_100_mb_up_one_node_and_down_the_other_in_bounded_memory(
        nodes: tuple[LambdaliteProcess, LambdaliteProcess], tmp_path: Path) -> None:
    a, b = nodes[0].client("s3"), nodes[1].client("s3")
    a.create_bucket(Bucket="big")
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(BIG_BYTES // MIB):
            out.write(os.urandom(MIB))
    with open(source, "rb") as body:
        a.put_object(Bucket="big", Key="one-put", Body=body)
    got = b.get_object(Bucket="big", Key="one-put")
    assert got["ContentLength"] == BIG_BYTES
    with open(source, "rb") as expected:
        for chunk in got["Body"].iter_chunks(MIB):
            assert chunk == expected.read(len(chunk))
        assert expected.read(1) == b""
    for node in nodes:
        assert node.proc is not None
        peak = peak_rss_bytes(node.proc.pid)
        assert peak < RSS_LIMIT_BYTES, f"node peak RSS {peak / 2**20:.0f} MiB"


def test_a_put_answered_200_is_kept_when_its_node_is_killed(
        nodes: tuple[LambdaliteProcess, LambdaliteProcess]) -> None:
    a, b = nodes[0].client("s3"), nodes[1].client("s3")
    a.create_bucket(Bucket="shared")
    bodies = {f"k/{n:02d}": os.urandom(n * 50_000 + 1) for n in range(20)}
    for key, data in bodies.items():
        a.put_object(Bucket="shared", Key=key, Body=data)
    nodes[0].kill()  # SIGKILL right after the last 200
    for key, data in bodies.items():
        assert _body(b, key) == data
