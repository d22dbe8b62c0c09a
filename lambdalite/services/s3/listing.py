"""ListObjects (V1) and ListObjectsV2: prefix, delimiter (common prefixes), pagination, encoding-type=url."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from lambdalite.model.s3 import ObjectRecord
from lambdalite.services.http import Response
from lambdalite.services.s3.context import Call
from lambdalite.services.s3.wire import element, invalid_argument, iso_ms, no_such_bucket, xml_response

MAX_KEYS = 1000
_PAGE = 1000
_AFTER_ALL = "\U0010ffff"  # sorts after every key under a common prefix (skipping the rest of it)


@dataclass
class Page:
    contents: list[ObjectRecord] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""  # the last key or common prefix listed (NextMarker)
    resume: str = ""  # where the next page starts (continuation token)


def _max_keys(call: Call) -> int:
    raw = call.query.get("max-keys", str(MAX_KEYS))
    try:
        value = int(raw)
    except ValueError:
        raise invalid_argument("Provided max-keys not an integer or within integer range", "max-keys", raw) from None
    if value < 0:
        raise invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647", "maxKeys", raw)
    return min(value, MAX_KEYS)


def _start(after: str, prefix: str, delimiter: str) -> str:
    """A marker that names a common prefix skips everything under it."""
    if delimiter and after.startswith(prefix) and after.endswith(delimiter) and after[len(prefix):].find(
            delimiter) == len(after) - len(prefix) - len(delimiter):
        return after + _AFTER_ALL
    return after


async def collect(call: Call, prefix: str, delimiter: str, after: str, max_keys: int) -> Page:
    page = Page()
    after = _start(after, prefix, delimiter)
    while True:
        rows = await call.node.store.s3_list_objects(call.bucket, prefix, after, _PAGE)
        if rows is None:
            raise no_such_bucket(call.bucket)
        if not rows:
            return page
        for obj in rows:
            common = None
            if delimiter:
                at = obj.key.find(delimiter, len(prefix))
                if at >= 0:
                    common = obj.key[:at + len(delimiter)]
            if len(page.contents) + len(page.prefixes) >= max_keys:
                page.truncated = True
                return page
            if common is not None:
                page.prefixes.append(common)
                page.last, page.resume = common, common + _AFTER_ALL
                after = page.resume
                break
            page.contents.append(obj)
            page.last = page.resume = after = obj.key
        else:
            if len(rows) < _PAGE:
                return page


def _encoder(call: Call) -> tuple[str, Callable[[str], str]]:
    if call.query.get("encoding-type") == "url":
        return element("EncodingType", "url"), lambda s: quote(s, safe="/")
    return "", str


def _entries(page: Page, encode: Callable[[str], str], owner: str) -> str:
    out = []
    for obj in page.contents:
        out.append(f"<Contents>{element('Key', encode(obj.key))}{element('LastModified', iso_ms(obj.modified_ms))}"
                   f"{element('ETag', obj.etag)}{element('Size', obj.size)}{owner}"
                   f"<StorageClass>STANDARD</StorageClass></Contents>")
    out += [f"<CommonPrefixes>{element('Prefix', encode(p))}</CommonPrefixes>" for p in page.prefixes]
    return "".join(out)


def _owner(call: Call) -> str:
    return f"<Owner>{element('ID', call.account.rjust(64, '0'))}{element('DisplayName', 'lambdalite')}</Owner>"


async def list_v1(call: Call) -> Response:
    prefix, delimiter, marker = call.query.get("prefix", ""), call.query.get("delimiter", ""), call.query.get("marker", "")
    max_keys = _max_keys(call)
    page = await collect(call, prefix, delimiter, marker, max_keys)
    encoding, encode = _encoder(call)
    inner = (element("Name", call.bucket) + element("Prefix", encode(prefix)) + element("Marker", encode(marker))
             + (element("NextMarker", encode(page.last)) if page.truncated and delimiter else "")
             + element("MaxKeys", max_keys) + (element("Delimiter", encode(delimiter)) if delimiter else "")
             + element("IsTruncated", str(page.truncated).lower()) + encoding
             + _entries(page, encode, _owner(call)))
    return xml_response("ListBucketResult", inner)


def _token(resume: str) -> str:
    return base64.urlsafe_b64encode(resume.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError):
        raise invalid_argument("The continuation token provided is incorrect", "continuation-token", token) from None


async def list_v2(call: Call) -> Response:
    prefix, delimiter = call.query.get("prefix", ""), call.query.get("delimiter", "")
    token, start_after = call.query.get("continuation-token"), call.query.get("start-after", "")
    max_keys = _max_keys(call)
    after = _untoken(token) if token is not None else start_after
    page = await collect(call, prefix, delimiter, after, max_keys)
    encoding, encode = _encoder(call)
    owner = _owner(call) if call.query.get("fetch-owner") == "true" else ""
    inner = (element("Name", call.bucket) + element("Prefix", encode(prefix))
             + (element("Delimiter", encode(delimiter)) if delimiter else "") + element("MaxKeys", max_keys)
             + encoding + element("KeyCount", len(page.contents) + len(page.prefixes))
             + element("IsTruncated", str(page.truncated).lower())
             + (element("ContinuationToken", token) if token is not None else "")
             + (element("NextContinuationToken", _token(page.resume)) if page.truncated else "")
             + (element("StartAfter", encode(start_after)) if start_after else "")
             + _entries(page, encode, owner))
    return xml_response("ListBucketResult", inner)
