"""The S3 part of the Store protocol, on every backend: buckets, objects' metadata (with their notification
jobs committed in the same write), listings in binary key order, multipart uploads, and the body files a
change stops using."""

from __future__ import annotations

from lambdalite.model.queue import NewMessage
from lambdalite.model.s3 import NOTIFICATION_KIND, BucketRecord, ObjectRecord, PartRecord, UploadRecord
from lambdalite.store.protocol import Store
from tests.support.backends import Backend


def _object(key: str, blob: str, bucket: str = "bkt", size: int = 1) -> ObjectRecord:
    return ObjectRecord(bucket, key, size, '"etag"', 1000, blob, "text/plain", {"colour": "red"},
                        {"content-encoding": "gzip"})


def _job(n: int) -> NewMessage:
    return NewMessage(kind=NOTIFICATION_KIND, queue="@s3/bkt", id=f"job-{n}", body=b"{}")


async def test_buckets(store: Store) -> None:
    assert await store.s3_create_bucket(BucketRecord("bkt", "eu-west-1", 5)) is None
    existing = await store.s3_create_bucket(BucketRecord("bkt", "us-east-1", 9))
    assert existing is not None and (existing.region, existing.created_ms) == ("eu-west-1", 5)
    await store.s3_create_bucket(BucketRecord("another", "us-east-1", 6))
    assert [b.name for b in await store.s3_list_buckets()] == ["another", "bkt"]
    assert await store.s3_set_notification("bkt", '{"configs": [], "eventbridge": true}')
    assert not await store.s3_set_notification("missing", None)
    bucket = await store.s3_get_bucket("bkt")
    assert bucket is not None and bucket.notification == '{"configs": [], "eventbridge": true}'
    await store.s3_put_object(_object("k", "blob-k"), [])
    assert await store.s3_delete_bucket("bkt") == "not_empty"
    assert await store.s3_delete_bucket("missing") == "missing"
    await store.s3_delete_objects("bkt", ["k"], [])
    assert await store.s3_delete_bucket("bkt") == []
    assert await store.s3_get_bucket("bkt") is None


async def test_object_write_commits_its_jobs_and_names_replaced_bodies(store: Store) -> None:
    await store.s3_create_bucket(BucketRecord("bkt", "us-east-1", 1))
    written = await store.s3_put_object(_object("k", "blob-1"), [_job(1)])
    assert written.ok and written.blobs == []
    assert [j.id for j in await store.lease_jobs(NOTIFICATION_KIND, 30_000, 10)] == ["job-1"]
    replaced = await store.s3_put_object(_object("k", "blob-2", size=7), [_job(2)])
    assert replaced.ok and replaced.blobs == ["blob-1"]
    got = await store.s3_get_object("bkt", "k")
    assert got == _object("k", "blob-2", size=7)
    missing = await store.s3_put_object(_object("k", "blob-3", bucket="nope"), [_job(3)])
    assert not missing.ok and missing.blobs == ["blob-3"]
    assert [j.id for j in await store.lease_jobs(NOTIFICATION_KIND, 30_000, 10)] == ["job-2"]
    deleted = await store.s3_delete_objects("bkt", ["k", "never"], [_job(4)])
    assert deleted.ok and deleted.blobs == ["blob-2"]
    assert await store.s3_get_object("bkt", "k") is None
    assert not (await store.s3_delete_objects("nope", ["k"], [])).ok


async def test_listing_is_in_binary_key_order_after_a_marker(store: Store) -> None:
    await store.s3_create_bucket(BucketRecord("bkt", "us-east-1", 1))
    keys = ["a/1", "a/2", "a/é", "a/Z", "b", "a"]
    for n, key in enumerate(keys):
        await store.s3_put_object(_object(key, f"blob-{n}"), [])
    listed = await store.s3_list_objects("bkt", "a/", "", 10)
    assert listed is not None and [o.key for o in listed] == ["a/1", "a/2", "a/Z", "a/é"]
    after = await store.s3_list_objects("bkt", "", "a/2", 2)
    assert after is not None and [o.key for o in after] == ["a/Z", "a/é"]
    assert await store.s3_list_objects("nope", "", "", 10) is None


async def test_multipart_upload_becomes_the_object(store: Store) -> None:
    await store.s3_create_bucket(BucketRecord("bkt", "us-east-1", 1))
    assert not await store.s3_create_upload(UploadRecord("u0", "nope", "k", 1))
    assert await store.s3_create_upload(UploadRecord("u1", "bkt", "k", 1, "text/plain", {"m": "v"}))
    assert (await store.s3_put_part(PartRecord("u1", 1, 5, '"e1"', 2, "part-1"))).blobs == []
    assert (await store.s3_put_part(PartRecord("u1", 1, 6, '"e1b"', 3, "part-1b"))).blobs == ["part-1"]
    await store.s3_put_part(PartRecord("u1", 2, 1, '"e2"', 3, "part-2"))
    assert not (await store.s3_put_part(PartRecord("nope", 1, 1, '"e"', 3, "part-x"))).ok
    assert [p.number for p in await store.s3_list_parts("u1")] == [1, 2]
    upload = await store.s3_get_upload("u1")
    assert upload is not None and upload.metadata == {"m": "v"}
    assert [u.upload_id for u in await store.s3_list_uploads("bkt", "")] == ["u1"]
    done = await store.s3_complete_upload("u1", _object("k", "whole"), [_job(9)])
    assert done.ok and sorted(done.blobs) == ["part-1b", "part-2"]
    assert await store.s3_get_upload("u1") is None
    assert (await store.s3_get_object("bkt", "k")) == _object("k", "whole")
    assert not (await store.s3_complete_upload("u1", _object("k", "again"), [])).ok
    await store.s3_create_upload(UploadRecord("u2", "bkt", "k2", 1))
    await store.s3_put_part(PartRecord("u2", 1, 1, '"e"', 1, "part-u2"))
    aborted = await store.s3_abort_upload("u2")
    assert aborted.ok and aborted.blobs == ["part-u2"]
    assert not (await store.s3_abort_upload("u2")).ok


async def test_another_process_sees_the_writes(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    await one.s3_create_bucket(BucketRecord("shared", "us-east-1", 1))
    await one.s3_put_object(_object("k", "blob", bucket="shared"), [])
    got = await two.s3_get_object("shared", "k")
    assert got is not None and got.blob == "blob"


async def test_notification_report_counts_pending_jobs_per_bucket(store: Store) -> None:
    await store.s3_create_bucket(BucketRecord("bkt", "us-east-1", 1))
    assert await store.s3_notification_report(0) == []
    await store.s3_put_object(_object("k", "blob"), [_job(1), _job(2)])
    (row,) = await store.s3_notification_report(10**13)
    assert (row.function, row.queued, row.in_flight, row.delayed) == ("bkt", 2, 0, 0)
