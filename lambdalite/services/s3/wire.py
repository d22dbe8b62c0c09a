"""S3's wire vocabulary: XML out (escaped text, the 2006-03-01 namespace), XML in (parsed safely), its
error bodies, and the errors the contract names (`../shared/spec/event-sources.md` section 2)."""

from __future__ import annotations

import base64
import secrets
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import formatdate
from xml.sax.saxutils import escape

from lambdalite.services.http import AwsError, Response

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_TYPE = "application/xml"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Signature errors (services/auth.py names them as Lambda does) in S3's words.
_AUTH_CODES = {
    "MissingAuthenticationTokenException": (403, "AccessDenied"),
    "IncompleteSignatureException": (400, "AuthorizationHeaderMalformed"),
    "UnrecognizedClientException": (403, "InvalidAccessKeyId"),
    "InvalidSignatureException": (403, "SignatureDoesNotMatch"),
}


def text(value: object) -> str:
    return escape(str(value))


def element(name: str, value: object) -> str:
    return f"<{name}>{text(value)}</{name}>"


def document(root: str, inner: str) -> bytes:
    return f'{_DECLARATION}<{root} xmlns="{XMLNS}">{inner}</{root}>'.encode()


def xml_response(root: str, inner: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, document(root, inner), headers or [], XML_TYPE)


def iso_ms(epoch_ms: int) -> str:
    """`2019-10-12T17:50:30.000Z` (listings, CopyObjectResult)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def http_date(epoch_ms: int) -> str:
    """`Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT` (second precision)."""
    return formatdate(epoch_ms // 1000, usegmt=True)


def host_id() -> str:
    return base64.b64encode(secrets.token_bytes(48)).decode()


def parse_xml(body: bytes) -> ET.Element:
    """The request's XML root with namespaces dropped from tag names; MalformedXML when it is not XML."""
    if not body.strip() or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise malformed_xml()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise malformed_xml() from None
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = node.tag.split("}", 1)[1]
    return root


def child_text(node: ET.Element, name: str) -> str | None:
    found = node.find(name)
    return None if found is None else (found.text or "")


# ---- errors -----------------------------------------------------------------------------------------


def s3_error(status: int, code: str, message: str, **fields: str) -> AwsError:
    """An S3 error; `fields` become extra elements of the <Error> body (BucketName, Key, ...)."""
    return AwsError(status, code, message, extra=dict(fields), type_=None)


def no_such_bucket(bucket: str) -> AwsError:
    return s3_error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str) -> AwsError:
    return s3_error(404, "NoSuchKey", "The specified key does not exist.", Key=key)


def no_such_upload(upload_id: str) -> AwsError:
    return s3_error(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                    "upload may have been aborted or completed.", UploadId=upload_id)


def malformed_xml() -> AwsError:
    return s3_error(400, "MalformedXML",
                    "The XML you provided was not well-formed or did not validate against our published schema")


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> AwsError:
    fields = {} if name is None else {"ArgumentName": name, "ArgumentValue": value or ""}
    return s3_error(400, "InvalidArgument", message, **fields)


def error_response(error: AwsError, request_id: str) -> Response:
    """S3's `<Error>` body; HEAD answers carry no body (the HTTP server drops it)."""
    status, code = error.status, error.code
    if code in _AUTH_CODES:
        status, code = _AUTH_CODES[code]
    elif code == "ServiceException":
        code = "InternalError"
    fields = "".join(element(name, value) for name, value in error.extra.items())
    body = (f"{_DECLARATION}<Error>{element('Code', code)}{element('Message', error.message)}{fields}"
            f"{element('RequestId', request_id)}{element('HostId', host_id())}</Error>").encode()
    headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id()), *error.headers]
    return Response(status, body, headers, XML_TYPE)
