"""S3 from inside lambdalite: a Lambda OnFailure destination writes its record as an object (the Ports side)."""

from __future__ import annotations

import hashlib
import secrets

from lambdalite.clock import now_ms
from lambdalite.model.s3 import ObjectRecord
from lambdalite.node import Node
from lambdalite.services.s3 import notify_events
from lambdalite.services.s3.context import drop_bodies
from lambdalite.services.s3.wire import host_id, no_such_bucket
from lambdalite.wakeups import JOBS


async def put_object(node: Node, bucket_name: str, key: str, body: bytes, content_type: str,
                     trace_id: str | None) -> str:
    """Write one object as a PutObject would (its notifications fire); its ETag. NoSuchBucket when missing."""
    bucket = await node.store.s3_get_bucket(bucket_name)
    if bucket is None:
        raise no_such_bucket(bucket_name)
    blob = await node.store.s3_body_write_bytes(body)
    md5_hex = hashlib.md5(body, usedforsecurity=False).hexdigest()
    record = ObjectRecord(bucket_name, key, len(body), f'"{md5_hex}"', now_ms(), blob, content_type)
    change = notify_events.Change("ObjectCreated:Put", key, len(body), md5_hex, record.modified_ms,
                                  secrets.token_hex(8).upper(), host_id(), "127.0.0.1", trace_id)
    jobs = notify_events.jobs_for(bucket, [change], node.settings.account_id)
    written = await node.store.s3_put_object(record, jobs)
    await drop_bodies(node, written.blobs)
    if not written.ok:
        raise no_such_bucket(bucket_name)
    if jobs:
        node.wakeups.notify(JOBS)
    return record.etag
