"""The S3 event record (contract section 2.2) and the notification jobs an object change queues.

Jobs are built before the write and committed with it (`Store.s3_put_object` ...): each carries the
finished payload for one matching configuration, so delivery (destinations/s3_notify.py) only sends.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import orjson

from lambdalite.model.queue import NewMessage
from lambdalite.model.s3 import NOTIFICATION_KIND, BucketRecord
from lambdalite.services.s3.notify_config import Notification
from lambdalite.services.s3.wire import iso_ms

EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"
_REASONS = {"Put": "PutObject", "Post": "POST Object", "Copy": "CopyObject",
            "CompleteMultipartUpload": "CompleteMultipartUpload", "Delete": "DeleteObject"}
_lock = threading.Lock()
_last_ns = 0


def sequencer() -> str:
    """Upper-case hex, rising for every change this process makes (AWS: rising per key)."""
    global _last_ns
    with _lock:
        _last_ns = max(_last_ns + 1, time.time_ns())
        return f"{_last_ns:018X}"


@dataclass(frozen=True, slots=True)
class Change:
    """One object change as its notifications describe it."""

    event_name: str  # "ObjectCreated:Put", "ObjectRemoved:Delete", ...
    key: str
    size: int | None
    etag: str | None  # unquoted
    at_ms: int
    request_id: str
    host_id: str
    source_ip: str
    trace_id: str | None = None


def record(bucket: BucketRecord, change: Change, configuration_id: str, account: str,
           sequence: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(change.key, safe="/")}
    if change.size is not None:
        obj["size"] = change.size
    if change.etag is not None:
        obj["eTag"] = change.etag
    obj["sequencer"] = sequence
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": bucket.region,
        "eventTime": iso_ms(change.at_ms), "eventName": change.event_name,
        "userIdentity": {"principalId": f"AWS:{account}"},
        "requestParameters": {"sourceIPAddress": change.source_ip},
        "responseElements": {"x-amz-request-id": change.request_id, "x-amz-id-2": change.host_id},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": account},
                          "arn": f"arn:aws:s3:::{bucket.name}"},
               "object": obj},
    }


def eventbridge_entry(bucket: BucketRecord, change: Change, account: str, sequence: str) -> dict[str, Any]:
    created = change.event_name.startswith("ObjectCreated")
    obj: dict[str, Any] = {"key": change.key}
    if created:
        obj.update(size=change.size, etag=change.etag)
    obj["sequencer"] = sequence
    detail: dict[str, Any] = {"version": "0", "bucket": {"name": bucket.name}, "object": obj,
                              "request-id": change.request_id, "requester": account,
                              "source-ip-address": change.source_ip,
                              "reason": _REASONS.get(change.event_name.split(":", 1)[1], "PutObject")}
    if not created:
        detail["deletion-type"] = "Permanently Deleted"
    return {"Source": "aws.s3", "DetailType": "Object Created" if created else "Object Deleted",
            "Detail": orjson.dumps(detail).decode(), "Resources": [f"arn:aws:s3:::{bucket.name}"],
            "Time": iso_ms(change.at_ms)}


def jobs_for(bucket: BucketRecord, changes: list[Change], account: str) -> list[NewMessage]:
    """One job per change and matching configuration (plus EventBridge's, when configured)."""
    if not bucket.notification:
        return []
    config = Notification.from_json(bucket.notification)
    jobs: list[NewMessage] = []
    for change in changes:
        sequence = sequencer()
        for c in config.configs:
            if c.matches(change.event_name, change.key):
                payload = {"Records": [record(bucket, change, c.id, account, sequence)]}
                jobs.append(_job(bucket, c.kind, c.arn, payload, change.trace_id))
        if config.eventbridge:
            entry = eventbridge_entry(bucket, change, account, sequence)
            jobs.append(_job(bucket, "eventbridge", "", entry, change.trace_id))
    return jobs


def _job(bucket: BucketRecord, kind: str, target: str, payload: dict[str, Any], trace_id: str | None) -> NewMessage:
    body = {"kind": kind, "arn": target, "region": bucket.region, "payload": payload, "trace_id": trace_id}
    return NewMessage(kind=NOTIFICATION_KIND, queue=f"@s3/{bucket.name}", id=str(uuid.uuid4()), body=orjson.dumps(body))


def test_event(bucket: str, at_ms: int, request_id: str, host_id: str) -> str:
    """What a notification PUT sends each queue and topic."""
    return orjson.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": iso_ms(at_ms), "Bucket": bucket,
                         "RequestId": request_id, "HostId": host_id}).decode()
