"""S3: buckets, objects' metadata, multipart uploads and their parts, bucket notification configurations.

An object write and its notification jobs commit in one transaction (`put_object`, `complete_upload`,
`delete_objects` take the jobs): a PUT answered 200 has its notifications queued durably.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import orjson

from lambdalite.model.queue import NewMessage, QueueRow
from lambdalite.model.s3 import (
    NOTIFICATION_KIND,
    BucketRecord,
    Dropped,
    ObjectRecord,
    PartRecord,
    UploadRecord,
)
from lambdalite.store.sqlite import queues
from lambdalite.store.sqlite.event_queue import enqueue_jobs

if TYPE_CHECKING:
    from lambdalite.store.sqlite.db import Database

SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS s3_buckets (
        name TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        notification TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS s3_objects (
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        modified_ms INTEGER NOT NULL,
        blob TEXT NOT NULL,
        content_type TEXT NOT NULL,
        attrs BLOB NOT NULL,
        PRIMARY KEY (bucket, key)
    )""",
    """CREATE TABLE IF NOT EXISTS s3_uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        attrs BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS s3_uploads_bucket ON s3_uploads(bucket, key)",
    """CREATE TABLE IF NOT EXISTS s3_parts (
        upload_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        modified_ms INTEGER NOT NULL,
        blob TEXT NOT NULL,
        PRIMARY KEY (upload_id, number)
    )""",
]

_BUCKET_COLUMNS = "name, region, created_ms, notification"
_OBJECT_COLUMNS = "bucket, key, size, etag, modified_ms, blob, content_type, attrs"
_UPLOAD_COLUMNS = "upload_id, bucket, key, created_ms, content_type, attrs"
_PART_COLUMNS = "upload_id, number, size, etag, modified_ms, blob"
_AFTER_ALL = "\U0010ffff"  # sorts after every key that starts with a given prefix (but that prefix + U+10FFFF...)


def _attrs(metadata: dict[str, str], headers: dict[str, str]) -> bytes:
    return orjson.dumps({"meta": metadata, "headers": headers})


def _object(row: tuple[str, str, int, str, int, str, str, bytes]) -> ObjectRecord:
    attrs = orjson.loads(row[7])
    return ObjectRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], attrs["meta"], attrs["headers"])


def _upload(row: tuple[str, str, str, int, str, bytes]) -> UploadRecord:
    attrs = orjson.loads(row[5])
    return UploadRecord(row[0], row[1], row[2], row[3], row[4], attrs["meta"], attrs["headers"])


# ---- buckets ----------------------------------------------------------------------------------------


def get_bucket(conn: sqlite3.Connection, name: str) -> BucketRecord | None:
    row = conn.execute(f"SELECT {_BUCKET_COLUMNS} FROM s3_buckets WHERE name = ?", (name,)).fetchone()
    return BucketRecord(*row) if row else None


def create_bucket(conn: sqlite3.Connection, record: BucketRecord) -> BucketRecord | None:
    existing = get_bucket(conn, record.name)
    if existing is not None:
        return existing
    conn.execute("INSERT INTO s3_buckets(name, region, created_ms, notification) VALUES (?,?,?,?)",
                 (record.name, record.region, record.created_ms, record.notification))
    return None


def delete_bucket(conn: sqlite3.Connection, name: str) -> str | list[str]:
    """"missing", "not_empty", or the blobs of the incomplete uploads dropped with the bucket."""
    if get_bucket(conn, name) is None:
        return "missing"
    if conn.execute("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
        return "not_empty"
    blobs = [r[0] for r in conn.execute(
        "SELECT p.blob FROM s3_parts p JOIN s3_uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?", (name,))]
    conn.execute("DELETE FROM s3_parts WHERE upload_id IN (SELECT upload_id FROM s3_uploads WHERE bucket = ?)",
                 (name,))
    conn.execute("DELETE FROM s3_uploads WHERE bucket = ?", (name,))
    conn.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
    return blobs


# ---- objects ----------------------------------------------------------------------------------------


def get_object(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectRecord | None:
    row = conn.execute(f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key = ?",
                       (bucket, key)).fetchone()
    return _object(row) if row else None


def put_object(conn: sqlite3.Connection, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
    if get_bucket(conn, record.bucket) is None:
        return Dropped(False, [record.blob])
    old = conn.execute("SELECT blob FROM s3_objects WHERE bucket = ? AND key = ?",
                       (record.bucket, record.key)).fetchone()
    conn.execute(
        f"""INSERT INTO s3_objects({_OBJECT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)
            ON CONFLICT(bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                modified_ms = excluded.modified_ms, blob = excluded.blob, content_type = excluded.content_type,
                attrs = excluded.attrs""",
        (record.bucket, record.key, record.size, record.etag, record.modified_ms, record.blob, record.content_type,
         _attrs(record.metadata, record.headers)),
    )
    enqueue_jobs(conn, jobs)
    return Dropped(True, [old[0]] if old and old[0] != record.blob else [])


def delete_objects(conn: sqlite3.Connection, bucket: str, keys: list[str], jobs: list[NewMessage]) -> Dropped:
    if get_bucket(conn, bucket) is None:
        return Dropped(False)
    blobs: list[str] = []
    for key in keys:
        row = conn.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ? RETURNING blob",
                           (bucket, key)).fetchone()
        if row:
            blobs.append(row[0])
    enqueue_jobs(conn, jobs)
    return Dropped(True, blobs)


def list_objects(conn: sqlite3.Connection, bucket: str, prefix: str, after: str,
                 limit: int) -> list[ObjectRecord] | None:
    """Objects whose key starts with `prefix` and sorts after `after` (binary order, as S3's UTF-8 order)."""
    if get_bucket(conn, bucket) is None:
        return None
    # The key range [prefix, prefix + U+10FFFF) bounds the index scan; substr() keeps the answer exact.
    rows = conn.execute(
        f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key > ? AND key >= ? AND key < ? "
        "AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
        (bucket, after, prefix, prefix + _AFTER_ALL, len(prefix), prefix, limit),
    ).fetchall()
    return [_object(r) for r in rows]


# ---- multipart uploads ------------------------------------------------------------------------------


def get_upload(conn: sqlite3.Connection, upload_id: str) -> UploadRecord | None:
    row = conn.execute(f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads WHERE upload_id = ?", (upload_id,)).fetchone()
    return _upload(row) if row else None


def create_upload(conn: sqlite3.Connection, record: UploadRecord) -> bool:
    if get_bucket(conn, record.bucket) is None:
        return False
    conn.execute(f"INSERT INTO s3_uploads({_UPLOAD_COLUMNS}) VALUES (?,?,?,?,?,?)",
                 (record.upload_id, record.bucket, record.key, record.created_ms, record.content_type,
                  _attrs(record.metadata, record.headers)))
    return True


def put_part(conn: sqlite3.Connection, part: PartRecord) -> Dropped:
    if get_upload(conn, part.upload_id) is None:
        return Dropped(False, [part.blob])
    old = conn.execute("SELECT blob FROM s3_parts WHERE upload_id = ? AND number = ?",
                       (part.upload_id, part.number)).fetchone()
    conn.execute(
        f"""INSERT INTO s3_parts({_PART_COLUMNS}) VALUES (?,?,?,?,?,?)
            ON CONFLICT(upload_id, number) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                modified_ms = excluded.modified_ms, blob = excluded.blob""",
        (part.upload_id, part.number, part.size, part.etag, part.modified_ms, part.blob),
    )
    return Dropped(True, [old[0]] if old else [])


def list_parts(conn: sqlite3.Connection, upload_id: str) -> list[PartRecord]:
    rows = conn.execute(f"SELECT {_PART_COLUMNS} FROM s3_parts WHERE upload_id = ? ORDER BY number",
                        (upload_id,)).fetchall()
    return [PartRecord(*r) for r in rows]


def list_uploads(conn: sqlite3.Connection, bucket: str, prefix: str) -> list[UploadRecord]:
    rows = conn.execute(
        f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads WHERE bucket = ? AND substr(key, 1, ?) = ? "
        "ORDER BY key, created_ms LIMIT 1000",
        (bucket, len(prefix), prefix),
    ).fetchall()
    return [_upload(r) for r in rows]


def _drop_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    blobs = [r[0] for r in conn.execute("DELETE FROM s3_parts WHERE upload_id = ? RETURNING blob", (upload_id,))]
    conn.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload_id,))
    return blobs


def abort_upload(conn: sqlite3.Connection, upload_id: str) -> Dropped:
    if get_upload(conn, upload_id) is None:
        return Dropped(False)
    return Dropped(True, _drop_upload(conn, upload_id))


def complete_upload(conn: sqlite3.Connection, upload_id: str, record: ObjectRecord,
                    jobs: list[NewMessage]) -> Dropped:
    """The upload becomes the object (its parts' files are dropped), with its notification jobs."""
    if get_upload(conn, upload_id) is None:
        return Dropped(False, [record.blob])
    blobs = _drop_upload(conn, upload_id)
    written = put_object(conn, record, jobs)
    if not written.ok:
        return Dropped(False, blobs + written.blobs)
    return Dropped(True, blobs + written.blobs)


def notification_rows(conn: sqlite3.Connection, at_ms: int) -> list[QueueRow]:
    rows = []
    for name in sorted(queues.queues_of_kind(conn, NOTIFICATION_KIND)):
        counts = queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix("@s3/"), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


class S3Store:
    """S3's operations on the facade: one read or write each."""

    db: Database

    async def s3_create_bucket(self, record: BucketRecord) -> BucketRecord | None:
        return await self.db.write(lambda c: create_bucket(c, record))

    async def s3_get_bucket(self, name: str) -> BucketRecord | None:
        return self.db.read(lambda c: get_bucket(c, name))

    async def s3_list_buckets(self) -> list[BucketRecord]:
        return self.db.read(lambda c: [BucketRecord(*r) for r in c.execute(
            f"SELECT {_BUCKET_COLUMNS} FROM s3_buckets ORDER BY name")])

    async def s3_delete_bucket(self, name: str) -> str | list[str]:
        return await self.db.write(lambda c: delete_bucket(c, name))

    async def s3_set_notification(self, name: str, config: str | None) -> bool:
        return await self.db.write(lambda c: c.execute(
            "UPDATE s3_buckets SET notification = ? WHERE name = ?", (config, name)).rowcount > 0)

    async def s3_get_object(self, bucket: str, key: str) -> ObjectRecord | None:
        return self.db.read(lambda c: get_object(c, bucket, key))

    async def s3_put_object(self, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
        return await self.db.write(lambda c: put_object(c, record, jobs))

    async def s3_delete_objects(self, bucket: str, keys: list[str], jobs: list[NewMessage]) -> Dropped:
        return await self.db.write(lambda c: delete_objects(c, bucket, keys, jobs))

    async def s3_list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRecord] | None:
        return self.db.read(lambda c: list_objects(c, bucket, prefix, after, limit))

    async def s3_create_upload(self, record: UploadRecord) -> bool:
        return await self.db.write(lambda c: create_upload(c, record))

    async def s3_get_upload(self, upload_id: str) -> UploadRecord | None:
        return self.db.read(lambda c: get_upload(c, upload_id))

    async def s3_put_part(self, part: PartRecord) -> Dropped:
        return await self.db.write(lambda c: put_part(c, part))

    async def s3_list_parts(self, upload_id: str) -> list[PartRecord]:
        return self.db.read(lambda c: list_parts(c, upload_id))

    async def s3_list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]:
        return self.db.read(lambda c: list_uploads(c, bucket, prefix))

    async def s3_abort_upload(self, upload_id: str) -> Dropped:
        return await self.db.write(lambda c: abort_upload(c, upload_id))

    async def s3_complete_upload(self, upload_id: str, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
        return await self.db.write(lambda c: complete_upload(c, upload_id, record, jobs))

    async def s3_notification_report(self, at_ms: int) -> list[QueueRow]:
        return self.db.read(lambda c: notification_rows(c, at_ms))
