"""Object operations: Put/Get/Head/Delete/DeleteObjects/CopyObject.

A PUT's body arrives in a Spool (spool.py) while the request is read; here it is checked (Content-MD5,
declared checksums, the signed SHA-256), made durable, and named by the metadata row that commits with
the notification jobs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from lambdalite.clock import now_ms
from lambdalite.model.queue import NewMessage
from lambdalite.model.s3 import ObjectRecord
from lambdalite.services.http import Response, empty_response
from lambdalite.services.s3.context import Call
from lambdalite.services.s3.spool import MAX_BODY_BYTES, Spool, StoredBody
from lambdalite.services.s3.wire import (
    element,
    http_date,
    iso_ms,
    malformed_xml,
    no_such_bucket,
    no_such_key,
    parse_xml,
    s3_error,
    xml_response,
)

MAX_DELETE_KEYS = 1000
MAX_KEY_BYTES = 1024
_OVERRIDES = ("response-cache-control", "response-content-disposition", "response-content-encoding",
              "response-content-language", "response-expires")
_STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHECKSUM_NAMES = {"x-amz-checksum-crc32": "CRC32", "x-amz-checksum-sha1": "SHA1"}


def object_attrs(call: Call) -> tuple[str, dict[str, str], dict[str, str]]:
    """(Content-Type, user metadata, stored standard headers) from the request's headers."""
    headers = call.request.headers
    metadata = {name[11:]: value for name, value in headers.items() if name.startswith("x-amz-meta-")}
    stored = {name: headers[name] for name in _STORED_HEADERS if name in headers}
    encoding = ",".join(e for e in stored.pop("content-encoding", "").split(",") if e.strip() not in ("", "aws-chunked"))
    if encoding:
        stored["content-encoding"] = encoding
    return headers.get("content-type") or "binary/octet-stream", metadata, stored


def spool_of(call: Call) -> Spool:
    """The request's streamed body (in-memory bodies are spooled too: one path)."""
    sink = call.request.sink
    if isinstance(sink, Spool):
        return sink
    spool = call.spools.sink(call.request.headers)
    spool.write(call.request.body)
    call.request.sink = spool
    return spool


def check_body(call: Call, spool: Spool) -> None:
    """Content-MD5, x-amz-checksum-*, and the signed x-amz-content-sha256 against what arrived."""
    if spool.size > MAX_BODY_BYTES:
        raise s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                       ProposedSize=str(spool.size), MaxSizeAllowed=str(MAX_BODY_BYTES))
    if spool.error is not None:
        raise s3_error(500, "InternalError", "We encountered an internal error. Please try again.")
    chunked = spool.dechunker
    if chunked is not None:
        decoded = call.header("x-amz-decoded-content-length")
        if chunked.bad or not chunked.done or (decoded.isdigit() and int(decoded) != spool.size):
            raise s3_error(400, "IncompleteBody", "The request body terminated unexpectedly")
    declared_md5 = call.header("content-md5")
    if declared_md5:
        try:
            expected = base64.b64decode(declared_md5, validate=True)
        except (binascii.Error, ValueError):
            expected = b""
        if len(expected) != 16:
            raise s3_error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.",
                           **{"Content-MD5": declared_md5})
        if expected != spool.md5.digest():
            raise s3_error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.",
                           ExpectedDigest=declared_md5, CalculatedDigest=base64.b64encode(spool.md5.digest()).decode())
    for name, value in spool.checksums().items():
        declared = call.header(name) or (chunked.trailers.get(name, "") if chunked is not None else "")
        if declared != value:
            raise s3_error(400, "BadDigest",
                           f"The {_CHECKSUM_NAMES[name]} you specified did not match the calculated checksum.")
    if spool.sha256 is not None and call.header("x-amz-content-sha256") != spool.sha256.hexdigest():
        raise s3_error(400, "XAmzContentSHA256Mismatch",
                       "The provided 'x-amz-content-sha256' header does not match what was computed.",
                       ClientComputedContentSHA256=call.header("x-amz-content-sha256"),
                       S3ComputedContentSHA256=spool.sha256.hexdigest())


def check_key(key: str) -> None:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise s3_error(400, "KeyTooLongError", "Your key is too long", Size=str(len(key.encode())),
                       MaxSizeAllowed=str(MAX_KEY_BYTES))


async def put_object(call: Call) -> Response:
    check_key(call.key)
    bucket = await call.bucket_record()
    spool = spool_of(call)
    check_body(call, spool)
    blob = await call.node.store.s3_body_keep(spool)
    etag = f'"{spool.md5.hexdigest()}"'
    content_type, metadata, stored = object_attrs(call)
    record = ObjectRecord(call.bucket, call.key, spool.size, etag, now_ms(), blob, content_type, metadata, stored)
    jobs = call.jobs(bucket, [call.change("ObjectCreated:Put", call.key, spool.size, etag.strip('"'),
                                          record.modified_ms)])
    await _commit(call, record, jobs)
    return empty_response(200, [("ETag", etag), *spool.checksums().items()])


async def _commit(call: Call, record: ObjectRecord, jobs: list[NewMessage]) -> None:
    written = await call.node.store.s3_put_object(record, jobs)
    await call.drop_bodies(written.blobs)
    if not written.ok:
        raise no_such_bucket(call.bucket)
    call.announce(jobs)


async def _object(call: Call, bucket: str, key: str) -> ObjectRecord:
    record = await call.node.store.s3_get_object(bucket, key)
    if record is None:
        await call.bucket_record(bucket)
        raise no_such_key(key)
    return record


def _headers(record: ObjectRecord) -> list[tuple[str, str]]:
    headers = [("ETag", record.etag), ("Last-Modified", http_date(record.modified_ms)), ("Accept-Ranges", "bytes")]
    headers += [(name.title(), value) for name, value in record.headers.items()]
    headers += [(f"x-amz-meta-{name}", value) for name, value in record.metadata.items()]
    return headers


def byte_range(spec: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a satisfiable `bytes=` range; None to send the whole object (unparsable)."""
    match = _RANGE.fullmatch(spec.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first_text, last_text = match.groups()
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise _bad_range(spec, size)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        raise _bad_range(spec, size)
    return first, last


def _bad_range(spec: str, size: int) -> Exception:
    return s3_error(416, "InvalidRange", "The requested range is not satisfiable", RangeRequested=spec,
                    ActualObjectSize=str(size))


class _NoBody:
    """HEAD's stand-in: the length for Content-Length, nothing to send."""

    def __init__(self, length: int):
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        nothing: tuple[bytes, ...] = ()
        for chunk in nothing:
            yield chunk


async def get_object(call: Call, *, head: bool = False) -> Response:
    for _ in range(2):  # a body replaced or deleted between the metadata read and its open: read again
        record = await _object(call, call.bucket, call.key)
        if (unchanged := _preconditions(call, record)) is not None:
            return unchanged
        overrides = [(name[9:].title(), call.query[name]) for name in _OVERRIDES if name in call.query]
        replaced = {name for name, _ in overrides}  # (response-content-type: the Content-Type below)
        headers = [h for h in _headers(record) if h[0] not in replaced] + overrides
        first, last, status = 0, record.size - 1, 200
        chosen = byte_range(call.header("range"), record.size) if call.header("range") else None
        if chosen is not None:
            (first, last), status = chosen, 206
            headers.append(("Content-Range", f"bytes {first}-{last}/{record.size}"))
        length = last - first + 1
        if head:
            return Response(status, b"", headers, record.content_type, sized=_NoBody(length))
        chunks = await call.node.store.s3_body_open(record.blob, first, length)
        if chunks is not None:
            content_type = call.query.get("response-content-type", record.content_type)
            return Response(status, b"", headers, content_type, sized=StoredBody(chunks, length))
    raise no_such_key(call.key)


def _preconditions(call: Call, record: ObjectRecord) -> Response | None:
    """If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304), as S3 orders them."""
    modified_s = record.modified_ms // 1000
    if_match, if_none = call.header("if-match"), call.header("if-none-match")
    if if_match and record.etag.strip('"') not in {t.strip().strip('"') for t in if_match.split(",")} | {"*"}:
        raise _failed("If-Match")
    if not if_match and (since := _http_time(call.header("if-unmodified-since"))) is not None and modified_s > since:
        raise _failed("If-Unmodified-Since")
    if if_none and (record.etag.strip('"') in {t.strip().strip('"') for t in if_none.split(",")} or if_none == "*"):
        return _not_modified(record)
    if not if_none and (since := _http_time(call.header("if-modified-since"))) is not None and modified_s <= since:
        return _not_modified(record)
    return None


def _http_time(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def _failed(condition: str) -> Exception:
    return s3_error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                    Condition=condition)


def _not_modified(record: ObjectRecord) -> Response:
    return Response(304, b"", [("ETag", record.etag), ("Last-Modified", http_date(record.modified_ms))], None)


async def delete_object(call: Call) -> Response:
    bucket = await call.bucket_record()
    existing = await call.node.store.s3_get_object(call.bucket, call.key)
    jobs = call.jobs(bucket, [call.change("ObjectRemoved:Delete", call.key, None, None)]) if existing else []
    written = await call.node.store.s3_delete_objects(call.bucket, [call.key], jobs)
    if not written.ok:
        raise no_such_bucket(call.bucket)
    await call.drop_bodies(written.blobs)
    call.announce(jobs)
    return empty_response(204)


async def delete_objects(call: Call) -> Response:
    bucket = await call.bucket_record()
    root = parse_xml(call.request.body)
    if root.tag != "Delete":
        raise malformed_xml()
    keys = [node.text or "" for node in root.findall("Object/Key")]
    if not keys or len(keys) > MAX_DELETE_KEYS or len(keys) != len(root.findall("Object")):
        raise malformed_xml()
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    existing = [k for k in dict.fromkeys(keys) if await call.node.store.s3_get_object(call.bucket, k)]
    jobs = call.jobs(bucket, [call.change("ObjectRemoved:Delete", k, None, None) for k in existing])
    written = await call.node.store.s3_delete_objects(call.bucket, list(dict.fromkeys(keys)), jobs)
    if not written.ok:
        raise no_such_bucket(call.bucket)
    await call.drop_bodies(written.blobs)
    call.announce(jobs)
    inner = "" if quiet else "".join(f"<Deleted>{element('Key', k)}</Deleted>" for k in keys)
    return xml_response("DeleteResult", inner)


def copy_source(call: Call) -> tuple[str, str]:
    """(bucket, key) of `x-amz-copy-source: [/]bucket/key[?versionId=...]` (URL-encoded)."""
    raw = call.header("x-amz-copy-source").partition("?")[0]
    bucket, _, key = unquote(raw).lstrip("/").partition("/")
    if not bucket or not key:
        raise s3_error(400, "InvalidArgument", "Invalid copy source object key", ArgumentName="x-amz-copy-source",
                       ArgumentValue=call.header("x-amz-copy-source"))
    return bucket, key


async def copy_object(call: Call) -> Response:
    check_key(call.key)
    bucket = await call.bucket_record()
    source_bucket, source_key = copy_source(call)
    source = await _object(call, source_bucket, source_key)
    replace = call.header("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
    if (source_bucket, source_key) == (call.bucket, call.key) and not replace:
        raise s3_error(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object "
                       "to itself without changing the object's metadata, storage class, website redirect location "
                       "or encryption attributes.")
    content_type, metadata, stored = object_attrs(call) if replace else (source.content_type, source.metadata,
                                                                          source.headers)
    blob = await call.node.store.s3_body_concatenate([source.blob])  # each object owns its body
    if blob is None:  # deleted since its metadata was read
        raise no_such_key(source_key)
    record = ObjectRecord(call.bucket, call.key, source.size, source.etag, now_ms(), blob, content_type, metadata,
                          stored)
    jobs = call.jobs(bucket, [call.change("ObjectCreated:Copy", call.key, source.size, source.etag.strip('"'),
                                          record.modified_ms)])
    await _commit(call, record, jobs)
    inner = element("LastModified", iso_ms(record.modified_ms)) + element("ETag", record.etag)
    return xml_response("CopyObjectResult", inner)
