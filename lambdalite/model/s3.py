"""S3 buckets, objects' metadata, multipart uploads and parts, as every backend returns them.

Object bodies are not here: they are the store's (`Store.s3_body_*`: files in the data folder on SQLite,
chunk rows on PostgreSQL); a record names its body by id (`blob`), and an operation that replaces or drops
bodies returns the ids it no longer uses, for the caller to delete once the change is committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class BucketRecord:
    name: str
    region: str
    created_ms: int
    notification: str | None = None  # the bucket's notification configuration (services/s3/notify_config.py JSON)


@dataclass(slots=True)
class ObjectRecord:
    bucket: str
    key: str
    size: int
    etag: str  # as sent in the ETag header: quoted hex MD5, or `"<hex>-N"` for a multipart upload
    modified_ms: int
    blob: str  # the body's id in the store (S3BodiesStore)
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* (names lower-case, without the prefix)
    headers: dict[str, str] = field(default_factory=dict)  # stored standard headers (Content-Encoding, ...)


@dataclass(slots=True)
class UploadRecord:
    upload_id: str
    bucket: str
    key: str
    created_ms: int
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PartRecord:
    upload_id: str
    number: int
    size: int
    etag: str  # quoted hex MD5 of the part
    modified_ms: int
    blob: str


@dataclass(slots=True)
class Dropped:
    """What a write did: `ok` False when its bucket (or upload) was missing; `blobs`: bodies no longer
    used (replaced or deleted objects, completed or aborted parts), to delete after the commit."""

    ok: bool
    blobs: list[str] = field(default_factory=list)


NOTIFICATION_KIND = "s3-notification"  # the job kind of bucket notifications (destinations/s3_notify.py)
