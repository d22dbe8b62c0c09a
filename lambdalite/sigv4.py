"""Pure: AWS Signature Version 4 verification (header and presigned query-string forms).

The server rebuilds the canonical request from what arrived (method, path and query as sent, the headers
the client says it signed, the payload hash) and recomputes the signature; botocore's signer is the
reference the unit tests hold this against (tests/unit/test_sigv4.py), see docs/decisions.md for why it
is not called on the hot path. Errors carry a protocol-neutral `kind`; services/auth.py turns each
kind into the calling service's own AWS error.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_tz
from enum import Enum
from functools import lru_cache
from urllib.parse import quote, unquote, unquote_plus

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW_S = 300  # AWS accepts a request signed up to 5 minutes before or after its own clock
MAX_PRESIGN_EXPIRES_S = 604800  # a presigned URL lives at most 7 days
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_CANONICAL_QUERY_PART = re.compile(r"[A-Za-z0-9\-_.~]*(?:%[0-9A-F]{2}[A-Za-z0-9\-_.~]*)*")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
# The form every SDK writes; anything else goes through the general parser (and its precise errors).
_USUAL_HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})"
)
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9\-_~][A-Za-z0-9\-_.~]*)+/?|/")


class Kind(Enum):
    """Why a request was refused; each service names these its own way (services/auth.py)."""

    MISSING = "missing"  # no Authorization header and no X-Amz-* query parameters
    INCOMPLETE = "incomplete"  # malformed: a part is missing or unreadable
    UNKNOWN_KEY = "unknown_key"  # the access key id (or session token) is not ours
    BAD_SIGNATURE = "bad_signature"  # the signature does not match (wrong secret, tampering, wrong scope)
    SKEW = "skew"  # signed more than MAX_SKEW_S before or after our clock
    EXPIRED = "expired"  # a presigned URL past its X-Amz-Expires


class SigV4Error(Exception):
    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True, slots=True)
class Credential:
    """A secret the server knows for an access key id, and whose it is."""

    access_key: str
    secret_key: str
    account_id: str | None = None
    role_arn: str | None = None  # minted for a function's role (credentials.py)


@dataclass(slots=True)
class Claim:
    """What a request says about its own signature."""

    access_key: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    session_token: str | None
    presigned: bool
    expires_s: int = 0


@dataclass(frozen=True, slots=True)
class Arrived:
    """A request as it came off the wire: path and query still percent-encoded, header names lower-case."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]
    body: bytes


Lookup = Callable[[str, str | None], Credential | None]


# ---- parsing the claim ----------------------------------------------------------------------------


def _incomplete_header(authorization: str, missing: list[str], no_date: bool) -> SigV4Error:
    parts = [f"Authorization header requires '{name}' parameter." for name in missing]
    if no_date:
        parts.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    return SigV4Error(Kind.INCOMPLETE, " ".join(parts) + f" Authorization={authorization[:512]}")


def _split_scope(credential: str) -> tuple[str, str, str, str, str] | None:
    pieces = credential.split("/")
    if len(pieces) != 5 or not pieces[0]:
        return None
    return pieces[0], pieces[1], pieces[2], pieces[3], pieces[4]


def _header_date(headers: Mapping[str, str]) -> str:
    """X-Amz-Date, else the Date header (RFC 1123) in the same basic ISO 8601 form; "" if neither."""
    amz = headers.get("x-amz-date")
    if amz:
        return amz.strip()
    raw = headers.get("date")
    if not raw:
        return ""
    parsed = parsedate_tz(raw)
    if parsed is None:
        return ""
    epoch_s = calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    return time.strftime(AMZ_DATE_FORMAT, time.gmtime(epoch_s))


def claim_from_header(authorization: str, headers: Mapping[str, str]) -> Claim:
    """Parse `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex`."""
    usual = _USUAL_HEADER.fullmatch(authorization)
    amz_date = headers.get("x-amz-date")
    if usual is not None and amz_date:
        key, date, region, service, signed, sig = usual.groups()
        return Claim(key, date, region, service, tuple(signed.split(";")), sig, amz_date.strip(),
                     headers.get("x-amz-security-token"), False)
    algorithm, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for item in rest.split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                raise SigV4Error(
                    Kind.INCOMPLETE,
                    f"'{item}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                    f"'{authorization[:512]}'.",
                )
            fields[key.strip()] = value.strip()
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not fields.get(name)]
    amz_date = _header_date(headers)
    if missing or not amz_date:
        raise _incomplete_header(authorization, missing, no_date=not amz_date)
    return _scoped_claim(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date,
                         headers.get("x-amz-security-token"))


def _scoped_claim(credential: str, signed_headers: str, signature: str, amz_date: str, session_token: str | None,
                  expires_s: int | None = None) -> Claim:
    """A claim from its parts (header or presigned form): the Credential must be KEY/DATE/REGION/SERVICE/
    aws4_request. `expires_s` is set for a presigned URL."""
    scope = _split_scope(credential)
    if scope is None or scope[4] != "aws4_request":
        raise SigV4Error(Kind.INCOMPLETE, f"Credential should be scoped to a valid region, not '{credential[:200]}'. ")
    return Claim(scope[0], scope[1], scope[2], scope[3], tuple(signed_headers.split(";")), signature, amz_date,
                 session_token, presigned=expires_s is not None, expires_s=expires_s or 0)


def _query_params(raw_query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            out[unquote(key)] = unquote(value)
    return out


def claim_from_query(raw_query: str) -> Claim:
    """Parse a presigned URL's X-Amz-Algorithm/Credential/Date/Expires/SignedHeaders/Signature."""
    params = _query_params(raw_query)
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
    missing = [name for name in required if not params.get(name)]
    if missing:
        raise SigV4Error(
            Kind.INCOMPLETE,
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters.",
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise SigV4Error(Kind.INCOMPLETE, f"X-Amz-Algorithm only supports \"{ALGORITHM}\"")
    expires_raw = params.get("X-Amz-Expires", str(MAX_PRESIGN_EXPIRES_S))
    if not expires_raw.isdigit():
        raise SigV4Error(Kind.INCOMPLETE, "X-Amz-Expires should be a number")
    expires_s = int(expires_raw)
    if expires_s > MAX_PRESIGN_EXPIRES_S:
        raise SigV4Error(
            Kind.INCOMPLETE,
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES_S} seconds",
        )
    return _scoped_claim(params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"],
                         params["X-Amz-Date"], params.get("X-Amz-Security-Token"), expires_s)


def claim_of(request: Arrived) -> Claim:
    """The request's claim, from its Authorization header or else its query string."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        return claim_from_header(authorization, request.headers)
    if "X-Amz-" in request.raw_query or "x-amz-" in request.raw_query:
        params = _query_params(request.raw_query)
        if "X-Amz-Algorithm" in params or "X-Amz-Credential" in params or "X-Amz-Signature" in params:
            return claim_from_query(request.raw_query)
    raise SigV4Error(Kind.MISSING, "Missing Authentication Token")


# ---- canonical request ----------------------------------------------------------------------------


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and empty segments dropped too (AWS collapses `//`), as SigV4 wants outside S3."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
        else:
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def canonical_path(raw_path: str) -> str:
    """The path as sent, normalised, then URI-encoded once more (so `%3A` signs as `%253A`)."""
    if _PLAIN_PATH.fullmatch(raw_path) and "//" not in raw_path:
        return raw_path  # nothing to normalise or encode (no dot segments: a segment cannot start with ".")
    return quote(_remove_dot_segments(raw_path), safe="/~")


def _canonical_query_part(text: str) -> str:
    if _CANONICAL_QUERY_PART.fullmatch(text):
        return text
    return quote(unquote_plus(text), safe="-_.~")  # "+" is a space, as the services read a query


def canonical_query(raw_query: str, *, presigned: bool = False) -> str:
    """Every parameter URI-encoded (RFC 3986 unreserved kept), sorted by name then value; a presigned
    URL's own X-Amz-Signature left out."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = _canonical_query_part(key)
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, _canonical_query_part(value)))
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


def canonical_headers(headers: Mapping[str, str], signed: tuple[str, ...]) -> str:
    lines = []
    for name in signed:
        value = headers.get(name, "")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


def payload_hash(request: Arrived, service: str = "", presigned: bool = False) -> str:
    """UNSIGNED-PAYLOAD when the client says so; otherwise the body's SHA-256 as we received it (a claimed
    hash that differs from the body's fails the signature check). S3 bodies stream to a file after this
    check (`Arrived.body` is empty): the declared hash is signed, and S3 compares it with what arrives. An
    S3 presigned URL signs UNSIGNED-PAYLOAD."""
    declared = request.headers.get("x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD or (service == "s3" and presigned and not declared):
        return UNSIGNED_PAYLOAD
    if service == "s3" and declared and not request.body:
        return declared
    return hashlib.sha256(request.body).hexdigest()


def canonical_request(request: Arrived, claim: Claim) -> str:
    """S3's path is signed as sent (neither normalised nor encoded again), as botocore's S3 signer does."""
    return "\n".join((
        request.method.upper(),
        request.raw_path if claim.service == "s3" else canonical_path(request.raw_path),
        canonical_query(request.raw_query, presigned=claim.presigned),
        canonical_headers(request.headers, claim.signed_headers),
        ";".join(claim.signed_headers),
        payload_hash(request, claim.service, claim.presigned),
    ))


def string_to_sign(claim: Claim, canonical: str) -> str:
    scope = f"{claim.scope_date}/{claim.region}/{claim.service}/aws4_request"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{claim.amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=4096)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The derived key: four HMACs, computed once per (secret, day, region, service)."""
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


def signature(secret_key: str, claim: Claim, sts: str) -> str:
    key = signing_key(secret_key, claim.scope_date, claim.region, claim.service)
    return hmac.digest(key, sts.encode("utf-8"), "sha256").hex()


# ---- the whole check ------------------------------------------------------------------------------


def _amz_epoch_s(amz_date: str) -> int | None:
    if not _AMZ_DATE.fullmatch(amz_date):
        return None
    fields = (int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]),
              int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15]))
    if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] <= 23 and fields[4] <= 59 and fields[5] <= 60):
        return None
    return calendar.timegm((*fields, 0, 0, 0))


def _stamp(epoch_s: float) -> str:
    return time.strftime(AMZ_DATE_FORMAT, time.gmtime(epoch_s))


def check_time(claim: Claim, now_s: float) -> None:
    """Header form: within MAX_SKEW_S of our clock. Presigned: from X-Amz-Date (less the same skew) to
    X-Amz-Date + X-Amz-Expires."""
    signed_s = _amz_epoch_s(claim.amz_date)
    if signed_s is None:
        raise SigV4Error(Kind.INCOMPLETE, f"Date must be in ISO-8601 'basic format'. Got '{claim.amz_date}'. "
                         "See http://en.wikipedia.org/wiki/ISO_8601")
    minutes = MAX_SKEW_S // 60
    if signed_s > now_s + MAX_SKEW_S:
        raise SigV4Error(Kind.SKEW, f"Signature not yet current: {claim.amz_date} is still later than "
                         f"{_stamp(now_s + MAX_SKEW_S)} ({_stamp(now_s)} + {minutes} min.)")
    if claim.presigned:
        if signed_s + claim.expires_s < now_s:
            raise SigV4Error(Kind.EXPIRED, "Request has expired")
    elif signed_s < now_s - MAX_SKEW_S:
        raise SigV4Error(Kind.SKEW, f"Signature expired: {claim.amz_date} is now earlier than "
                         f"{_stamp(now_s - MAX_SKEW_S)} ({_stamp(now_s)} - {minutes} min.)")


def verify(request: Arrived, service: str, lookup: Lookup, now_s: float | None = None) -> Credential:
    """The credential that signed `request` for `service`, or SigV4Error saying why not."""
    claim = claim_of(request)
    if claim.service != service:
        raise SigV4Error(Kind.BAD_SIGNATURE, f"Credential should be scoped to correct service: '{service}'. ")
    if claim.amz_date[:8] != claim.scope_date:
        raise SigV4Error(
            Kind.BAD_SIGNATURE,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{claim.scope_date}' != '{claim.amz_date[:8]}', from '{claim.amz_date}'.",
        )
    credential = lookup(claim.access_key, claim.session_token)
    if credential is None:
        raise SigV4Error(Kind.UNKNOWN_KEY, INVALID_TOKEN)
    check_time(claim, time.time() if now_s is None else now_s)
    expected = signature(credential.secret_key, claim, string_to_sign(claim, canonical_request(request, claim)))
    if not hmac.compare_digest(expected, claim.signature):
        raise SigV4Error(Kind.BAD_SIGNATURE, SIGNATURE_MISMATCH)
    return credential


def presign(method: str, host: str, path: str, credential: Credential, session_token: str | None, region: str,
            service: str, expires_s: int, now_s: float) -> str:
    """The query string of a presigned URL for `method host path` (Host signed, empty payload)."""
    amz_date = _stamp(now_s)
    params = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credential.access_key}/{amz_date[:8]}/{region}/{service}/aws4_request",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires_s),
        "X-Amz-SignedHeaders": "host",
    }
    if session_token:
        params["X-Amz-Security-Token"] = session_token
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    claim = Claim(credential.access_key, amz_date[:8], region, service, ("host",), "", amz_date, session_token, True,
                  expires_s)
    arrived = Arrived(method, path, query, {"host": host}, b"")
    return f"{query}&X-Amz-Signature={signature(credential.secret_key, claim, string_to_sign(claim, canonical_request(arrived, claim)))}"

