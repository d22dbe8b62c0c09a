"""Multipart uploads: Create, UploadPart (and UploadPartCopy), Complete, Abort, ListParts, ListMultipartUploads.

Parts are bodies like objects'; Complete writes the listed parts one after another into the object's own
body, and the object row, the upload's removal and the notification jobs commit together. ETag: the hex
MD5 of the concatenated binary part MD5s, then `-N`.
"""

from __future__ import annotations

import hashlib
import secrets

from lambdalite.clock import now_ms
from lambdalite.model.s3 import ObjectRecord, PartRecord, UploadRecord
from lambdalite.services.http import Response, empty_response
from lambdalite.services.s3 import objects
from lambdalite.services.s3.context import Call
from lambdalite.services.s3.wire import (
    element,
    invalid_argument,
    iso_ms,
    malformed_xml,
    no_such_bucket,
    no_such_key,
    no_such_upload,
    parse_xml,
    s3_error,
    xml_response,
)

MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000


async def create(call: Call) -> Response:
    objects.check_key(call.key)
    await call.bucket_record()
    content_type, metadata, stored = objects.object_attrs(call)
    upload_id = secrets.token_urlsafe(48)
    record = UploadRecord(upload_id, call.bucket, call.key, now_ms(), content_type, metadata, stored)
    if not await call.node.store.s3_create_upload(record):
        raise no_such_bucket(call.bucket)
    inner = element("Bucket", call.bucket) + element("Key", call.key) + element("UploadId", upload_id)
    return xml_response("InitiateMultipartUploadResult", inner)


async def _upload(call: Call) -> UploadRecord:
    upload_id = call.query.get("uploadId", "")
    upload = await call.node.store.s3_get_upload(upload_id)
    if upload is None or upload.bucket != call.bucket or upload.key != call.key:
        await call.bucket_record()
        raise no_such_upload(upload_id)
    return upload


def _part_number(call: Call) -> int:
    raw = call.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw)
    return int(raw)


async def upload_part(call: Call) -> Response:
    number = _part_number(call)
    upload = await _upload(call)
    if call.header("x-amz-copy-source"):
        return await _upload_part_copy(call, upload, number)
    spool = objects.spool_of(call)
    objects.check_body(call, spool)
    blob = await call.node.store.s3_body_keep(spool)
    etag = f'"{spool.md5.hexdigest()}"'
    await _store_part(call, PartRecord(upload.upload_id, number, spool.size, etag, now_ms(), blob))
    return empty_response(200, [("ETag", etag), *spool.checksums().items()])


async def _store_part(call: Call, part: PartRecord) -> None:
    written = await call.node.store.s3_put_part(part)
    await call.drop_bodies(written.blobs)
    if not written.ok:
        raise no_such_upload(part.upload_id)


async def _upload_part_copy(call: Call, upload: UploadRecord, number: int) -> Response:
    source_bucket, source_key = objects.copy_source(call)
    source = await call.node.store.s3_get_object(source_bucket, source_key)
    if source is None:
        await call.bucket_record(source_bucket)
        raise no_such_key(source_key)
    first, last = 0, source.size - 1
    spec = call.header("x-amz-copy-source-range")
    if spec:
        chosen = objects.byte_range(spec, source.size)
        if chosen is None:
            raise invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last where "
                                   "first and last are the zero-based offsets of the first and last bytes to copy",
                                   "x-amz-copy-source-range", spec)
        first, last = chosen
    copied = await call.node.store.s3_body_copy_range(source.blob, first, last - first + 1)
    if copied is None:  # deleted since its metadata was read
        raise no_such_key(source_key)
    blob, md5_hex = copied
    part = PartRecord(upload.upload_id, number, last - first + 1, f'"{md5_hex}"', now_ms(), blob)
    await _store_part(call, part)
    inner = element("LastModified", iso_ms(part.modified_ms)) + element("ETag", part.etag)
    return xml_response("CopyPartResult", inner)


def _requested_parts(call: Call) -> list[tuple[int, str]]:
    root = parse_xml(call.request.body)
    if root.tag != "CompleteMultipartUpload":
        raise malformed_xml()
    requested: list[tuple[int, str]] = []
    for node in root.findall("Part"):
        number, etag = (node.findtext("PartNumber") or "").strip(), (node.findtext("ETag") or "").strip()
        if not number.isdigit():
            raise malformed_xml()
        requested.append((int(number), etag.strip('"')))
    if not requested:
        raise malformed_xml()
    return requested


async def complete(call: Call) -> Response:
    bucket = await call.bucket_record()
    upload = await _upload(call)
    requested = _requested_parts(call)
    numbers = [n for n, _ in requested]
    if numbers != sorted(set(numbers)):
        raise s3_error(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered "
                       "by part number.", UploadId=upload.upload_id)
    stored = {p.number: p for p in await call.node.store.s3_list_parts(upload.upload_id)}
    parts: list[PartRecord] = []
    for number, etag in requested:
        part = stored.get(number)
        if part is None or part.etag.strip('"') != etag:
            raise s3_error(400, "InvalidPart", "One or more of the specified parts could not be found.  The part may "
                           "not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                           UploadId=upload.upload_id, PartNumber=str(number), ETag=etag)
        parts.append(part)
    for part in parts[:-1]:
        if part.size < MIN_PART_BYTES:
            raise s3_error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                           ProposedSize=str(part.size), MinSizeAllowed=str(MIN_PART_BYTES),
                           PartNumber=str(part.number), ETag=part.etag)
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts), usedforsecurity=False)
    etag = f'"{digest.hexdigest()}-{len(parts)}"'
    blob = await call.node.store.s3_body_concatenate([p.blob for p in parts])
    if blob is None:  # a part replaced or the upload aborted meanwhile
        raise no_such_upload(upload.upload_id)
    size = sum(p.size for p in parts)
    record = ObjectRecord(call.bucket, call.key, size, etag, now_ms(), blob, upload.content_type, upload.metadata,
                          upload.headers)
    jobs = call.jobs(bucket, [call.change("ObjectCreated:CompleteMultipartUpload", call.key, size, etag.strip('"'),
                                          record.modified_ms)])
    written = await call.node.store.s3_complete_upload(upload.upload_id, record, jobs)
    await call.drop_bodies(written.blobs)
    if not written.ok:
        raise no_such_upload(upload.upload_id)
    call.announce(jobs)
    location = f"http://{call.request.host}/{call.bucket}/{call.key}"
    inner = (element("Location", location) + element("Bucket", call.bucket) + element("Key", call.key)
             + element("ETag", etag))
    return xml_response("CompleteMultipartUploadResult", inner)


async def abort(call: Call) -> Response:
    upload = await _upload(call)
    dropped = await call.node.store.s3_abort_upload(upload.upload_id)
    await call.drop_bodies(dropped.blobs)
    if not dropped.ok:
        raise no_such_upload(upload.upload_id)
    return empty_response(204)


async def list_parts(call: Call) -> Response:
    upload = await _upload(call)
    marker = call.query.get("part-number-marker", "0")
    after = int(marker) if marker.isdigit() else 0
    parts = [p for p in await call.node.store.s3_list_parts(upload.upload_id) if p.number > after]
    max_parts = int(call.query.get("max-parts", "1000")) if call.query.get("max-parts", "").isdigit() else 1000
    shown, truncated = parts[:max_parts], len(parts) > max_parts
    items = "".join(f"<Part>{element('PartNumber', p.number)}{element('LastModified', iso_ms(p.modified_ms))}"
                    f"{element('ETag', p.etag)}{element('Size', p.size)}</Part>" for p in shown)
    inner = (element("Bucket", call.bucket) + element("Key", call.key) + element("UploadId", upload.upload_id)
             + element("PartNumberMarker", after)
             + element("NextPartNumberMarker", shown[-1].number if shown else 0) + element("MaxParts", max_parts)
             + element("IsTruncated", str(truncated).lower()) + "<StorageClass>STANDARD</StorageClass>" + items)
    return xml_response("ListPartsResult", inner)


async def list_uploads(call: Call) -> Response:
    await call.bucket_record()
    prefix = call.query.get("prefix", "")
    uploads = await call.node.store.s3_list_uploads(call.bucket, prefix)
    items = "".join(f"<Upload>{element('Key', u.key)}{element('UploadId', u.upload_id)}"
                    f"{element('Initiated', iso_ms(u.created_ms))}<StorageClass>STANDARD</StorageClass></Upload>"
                    for u in uploads)
    inner = (element("Bucket", call.bucket) + element("KeyMarker", "") + element("UploadIdMarker", "")
             + element("Prefix", prefix) + element("MaxUploads", 1000) + element("IsTruncated", "false") + items)
    return xml_response("ListMultipartUploadsResult", inner)
