"""S3 buckets, objects' metadata, multipart uploads and notification configurations on PostgreSQL (the
model: store/sqlite/s3.py). An object write and its notification jobs commit in one transaction; rows
an operation depends on are locked (`FOR UPDATE` / `FOR SHARE`) so nodes writing at once stay consistent.
Object bodies are not here: they are s3_bodies.py's chunk rows, named by id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from lambdalite.store.postgres import queues
from lambdalite.store.postgres.event_queue import enqueue_jobs
from lambdalite.store.postgres.queues import affected
from lambdalite.store.postgres.s3_bodies import name_body

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

_BUCKET_COLUMNS = "name, region, created_ms, notification"
_OBJECT_COLUMNS = "bucket, key, size, etag, modified_ms, blob, content_type, attrs"
_UPLOAD_COLUMNS = "upload_id, bucket, key, created_ms, content_type, attrs"
_PART_COLUMNS = "upload_id, number, size, etag, modified_ms, blob"
_AFTER_ALL = "\U0010ffff"


def _attrs(metadata: dict[str, str], headers: dict[str, str]) -> bytes:
    return orjson.dumps({"meta": metadata, "headers": headers})


def _object(row: Any) -> ObjectRecord:
    attrs = orjson.loads(row[7])
    return ObjectRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], attrs["meta"], attrs["headers"])


def _upload(row: Any) -> UploadRecord:
    attrs = orjson.loads(row[5])
    return UploadRecord(row[0], row[1], row[2], row[3], row[4], attrs["meta"], attrs["headers"])


async def _bucket(conn: Conn, name: str, lock: str = "") -> BucketRecord | None:
    row = await conn.fetchrow(f"SELECT {_BUCKET_COLUMNS} FROM s3_buckets WHERE name = $1 {lock}", name)
    return BucketRecord(*row) if row else None


async def _upload_row(conn: Conn, upload_id: str, lock: str = "") -> UploadRecord | None:
    row = await conn.fetchrow(f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads WHERE upload_id = $1 {lock}", upload_id)
    return _upload(row) if row else None


async def _put_object(conn: Conn, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
    if await _bucket(conn, record.bucket, "FOR SHARE") is None:
        return Dropped(False, [record.blob])
    old = await conn.fetchval("SELECT blob FROM s3_objects WHERE bucket = $1 AND key = $2 FOR UPDATE",
                              record.bucket, record.key)
    await conn.execute(
        f"""INSERT INTO s3_objects({_OBJECT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
            ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                modified_ms = excluded.modified_ms, blob = excluded.blob, content_type = excluded.content_type,
                attrs = excluded.attrs""",
        record.bucket, record.key, record.size, record.etag, record.modified_ms, record.blob, record.content_type,
        _attrs(record.metadata, record.headers))
    await name_body(conn, record.blob)
    await enqueue_jobs(conn, jobs)
    return Dropped(True, [old] if old is not None and old != record.blob else [])


async def _drop_upload(conn: Conn, upload_id: str) -> list[str]:
    rows = await conn.fetch("DELETE FROM s3_parts WHERE upload_id = $1 RETURNING blob", upload_id)
    await conn.execute("DELETE FROM s3_uploads WHERE upload_id = $1", upload_id)
    return [r[0] for r in rows]


async def _notification_rows(conn: Conn, at_ms: int) -> list[QueueRow]:
    rows = []
    for name in sorted(await queues.queues_of_kind(conn, NOTIFICATION_KIND)):
        counts = await queues.counts(conn, name, at_ms=at_ms)
        age_s = None if counts.oldest_sent_ms is None else max(0.0, (at_ms - counts.oldest_sent_ms) / 1000)
        rows.append(QueueRow(name.removeprefix("@s3/"), counts.visible, counts.in_flight, counts.delayed, age_s))
    return rows


class S3Store:
    db: PgDatabase

    async def s3_create_bucket(self, record: BucketRecord) -> BucketRecord | None:
        async def fn(c: Conn) -> BucketRecord | None:
            inserted = await c.fetchval(
                "INSERT INTO s3_buckets(name, region, created_ms, notification) VALUES ($1,$2,$3,$4) "
                "ON CONFLICT DO NOTHING RETURNING 1", record.name, record.region, record.created_ms,
                record.notification)
            return None if inserted else await _bucket(c, record.name)

        return await self.db.write(fn)

    async def s3_get_bucket(self, name: str) -> BucketRecord | None:
        return await self.db.read(lambda c: _bucket(c, name))

    async def s3_list_buckets(self) -> list[BucketRecord]:
        rows = await self.db.fetch(f"SELECT {_BUCKET_COLUMNS} FROM s3_buckets ORDER BY name")
        return [BucketRecord(*r) for r in rows]

    async def s3_delete_bucket(self, name: str) -> str | list[str]:
        async def fn(c: Conn) -> str | list[str]:
            if await _bucket(c, name, "FOR UPDATE") is None:
                return "missing"
            if await c.fetchval("SELECT 1 FROM s3_objects WHERE bucket = $1 LIMIT 1", name):
                return "not_empty"
            rows = await c.fetch("DELETE FROM s3_parts WHERE upload_id IN (SELECT upload_id FROM s3_uploads "
                                 "WHERE bucket = $1) RETURNING blob", name)
            await c.execute("DELETE FROM s3_uploads WHERE bucket = $1", name)
            await c.execute("DELETE FROM s3_buckets WHERE name = $1", name)
            return [r[0] for r in rows]

        return await self.db.write(fn)

    async def s3_set_notification(self, name: str, config: str | None) -> bool:
        status = await self.db.write(lambda c: c.execute(
            "UPDATE s3_buckets SET notification = $1 WHERE name = $2", config, name))
        return affected(status) > 0

    async def s3_get_object(self, bucket: str, key: str) -> ObjectRecord | None:
        row = await self.db.fetchrow(f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = $1 AND key = $2",
                                     bucket, key)
        return _object(row) if row else None

    async def s3_put_object(self, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
        return await self.db.write(lambda c: _put_object(c, record, jobs))

    async def s3_delete_objects(self, bucket: str, keys: list[str], jobs: list[NewMessage]) -> Dropped:
        async def fn(c: Conn) -> Dropped:
            if await _bucket(c, bucket, "FOR SHARE") is None:
                return Dropped(False)
            rows = await c.fetch("DELETE FROM s3_objects WHERE bucket = $1 AND key = ANY($2::text[]) RETURNING blob",
                                 bucket, keys)
            await enqueue_jobs(c, jobs)
            return Dropped(True, [r[0] for r in rows])

        return await self.db.write(fn)

    async def s3_list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRecord] | None:
        async def fn(c: Conn) -> list[ObjectRecord] | None:
            if await _bucket(c, bucket) is None:
                return None
            rows = await c.fetch(
                f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = $1 AND key > $2 AND key >= $3 "
                "AND key < $4 AND left(key, $5) = $3 ORDER BY key LIMIT $6",
                bucket, after, prefix, prefix + _AFTER_ALL, len(prefix), limit)
            return [_object(r) for r in rows]

        return await self.db.read(fn)

    async def s3_create_upload(self, record: UploadRecord) -> bool:
        async def fn(c: Conn) -> bool:
            if await _bucket(c, record.bucket, "FOR SHARE") is None:
                return False
            await c.execute(f"INSERT INTO s3_uploads({_UPLOAD_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6)",
                            record.upload_id, record.bucket, record.key, record.created_ms, record.content_type,
                            _attrs(record.metadata, record.headers))
            return True

        return await self.db.write(fn)

    async def s3_get_upload(self, upload_id: str) -> UploadRecord | None:
        return await self.db.read(lambda c: _upload_row(c, upload_id))

    async def s3_put_part(self, part: PartRecord) -> Dropped:
        async def fn(c: Conn) -> Dropped:
            if await _upload_row(c, part.upload_id, "FOR SHARE") is None:
                return Dropped(False, [part.blob])
            old = await c.fetchval("SELECT blob FROM s3_parts WHERE upload_id = $1 AND number = $2 FOR UPDATE",
                                   part.upload_id, part.number)
            await c.execute(
                f"""INSERT INTO s3_parts({_PART_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6)
                    ON CONFLICT (upload_id, number) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                        modified_ms = excluded.modified_ms, blob = excluded.blob""",
                part.upload_id, part.number, part.size, part.etag, part.modified_ms, part.blob)
            await name_body(c, part.blob)
            return Dropped(True, [old] if old is not None else [])

        return await self.db.write(fn)

    async def s3_list_parts(self, upload_id: str) -> list[PartRecord]:
        rows = await self.db.fetch(f"SELECT {_PART_COLUMNS} FROM s3_parts WHERE upload_id = $1 ORDER BY number",
                                   upload_id)
        return [PartRecord(*r) for r in rows]

    async def s3_list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]:
        rows = await self.db.fetch(
            f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads WHERE bucket = $1 AND left(key, $2) = $3 "
            "ORDER BY key, created_ms LIMIT 1000", bucket, len(prefix), prefix)
        return [_upload(r) for r in rows]

    async def s3_abort_upload(self, upload_id: str) -> Dropped:
        async def fn(c: Conn) -> Dropped:
            if await _upload_row(c, upload_id, "FOR UPDATE") is None:
                return Dropped(False)
            return Dropped(True, await _drop_upload(c, upload_id))

        return await self.db.write(fn)

    async def s3_complete_upload(self, upload_id: str, record: ObjectRecord, jobs: list[NewMessage]) -> Dropped:
        async def fn(c: Conn) -> Dropped:
            if await _upload_row(c, upload_id, "FOR UPDATE") is None:
                return Dropped(False, [record.blob])
            blobs = await _drop_upload(c, upload_id)
            written = await _put_object(c, record, jobs)
            return Dropped(written.ok, blobs + written.blobs)

        return await self.db.write(fn)

    async def s3_notification_report(self, at_ms: int) -> list[QueueRow]:
        return await self.db.read(lambda c: _notification_rows(c, at_ms))
