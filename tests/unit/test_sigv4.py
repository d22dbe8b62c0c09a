"""lambdalite's SigV4 verifier against botocore's own signer, over many generated requests.

botocore signs (header form and presigned URLs); the request is then taken apart the way it arrives at
the server (path and query as sent, lower-case headers, Host as an HTTP client writes it) and must verify;
any change to what was signed must not.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdalite import sigv4
from lambdalite.sigv4 import Arrived, Credential, Kind, SigV4Error

SIGNED_AT = datetime.datetime(2024, 5, 17, 12, 30, 45, tzinfo=datetime.UTC)
NOW_S = SIGNED_AT.timestamp()
KEY = Credential("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TOKEN = "FQoGZXIvYXdzEDoaDFAKE+token/with=signs"
ODD_TEXT = string.ascii_letters + string.digits + " -_.~:/%+=&?#@!$'()*,;[]é漢🙂"


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SIGNED_AT.replace(tzinfo=None))
    yield


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ODD_TEXT) for _ in range(rng.randint(0, n)))


def _path(rng: random.Random) -> str:
    segments = ["2015-03-31", "functions", quote(_text(rng, 12) or "f", safe=""), "invocations"]
    if rng.random() < 0.3:
        segments[2] = "arn:aws:lambda:us-east-1:000000000000:function:my-fn"  # sent unencoded by some clients
    path = "/" + "/".join(segments[: rng.randint(1, 4)])
    if rng.random() < 0.1:
        path = path.replace("/functions", "//functions/./x/..")
    if rng.random() < 0.2:
        path += "/"
    return path


def _query(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randint(0, 4)):
        key = quote(_text(rng, 6) or "k", safe="-_.~")
        pairs.append(key if rng.random() < 0.1 else f"{key}={quote(_text(rng, 10), safe='-_.~')}")
    if pairs and rng.random() < 0.3:
        pairs.append(pairs[0])  # a repeated parameter
    return "&".join(pairs)


def _request(rng: random.Random, *, presigned: bool) -> AWSRequest:
    method = "GET" if presigned else rng.choice(["GET", "POST", "PUT", "DELETE"])
    port = rng.choice([None, 4566, 80])
    host = "127.0.0.1" if port is None else f"127.0.0.1:{port}"
    query = _query(rng)
    url = f"http://{host}{_path(rng)}" + (f"?{query}" if query else "")
    headers = {"Content-Type": "application/x-amz-json-1.1", "User-Agent": "Boto3/1.0 not-signed"}
    for i in range(rng.randint(0, 3)):
        headers[f"X-Amz-Meta-{i}"] = "  " + "  ".join(_text(rng, 6).split()) + " \t"
    if rng.random() < 0.3:
        headers["X-Amz-Target"] = "AWSEvents.PutEvents"
    body = b"" if presigned or method == "GET" else rng.randbytes(rng.randint(0, 300))
    if not presigned and rng.random() < 0.2:
        headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    return AWSRequest(method=method, url=url, headers=headers, data=body)


def _sign(rng: random.Random, *, presigned: bool, service: str = "lambda") -> tuple[Arrived, str, str | None]:
    request = _request(rng, presigned=presigned)
    region = rng.choice(["us-east-1", "eu-west-3", "ap-southeast-2"])
    token = TOKEN if rng.random() < 0.3 else None
    creds = Credentials(KEY.access_key, KEY.secret_key, token)
    signer = SigV4QueryAuth(creds, service, region, expires=600) if presigned else SigV4Auth(creds, service, region)
    signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", botocore.auth._host_from_url(prepared.url))  # what the HTTP client sends
    body = prepared.body or b""
    return Arrived(prepared.method, parts.path, parts.query, headers, body if isinstance(body, bytes) else body.encode()), region, token


def _lookup(access_key: str, token: str | None) -> Credential | None:
    return KEY if access_key == KEY.access_key else None


@pytest.mark.parametrize("presigned", [False, True])
def test_every_botocore_signed_request_verifies(presigned: bool) -> None:
    rng = random.Random(1234 + presigned)
    for _ in range(400):
        arrived, _, _ = _sign(rng, presigned=presigned)
        assert sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S) == KEY, arrived


def _tampered(rng: random.Random, arrived: Arrived) -> Iterator[Arrived]:
    claim = sigv4.claim_of(arrived)
    if "x-amz-content-sha256" not in arrived.headers:
        yield Arrived(arrived.method, arrived.raw_path, arrived.raw_query, arrived.headers, arrived.body + b" ")
    yield Arrived(arrived.method, arrived.raw_path + "x", arrived.raw_query, arrived.headers, arrived.body)
    yield Arrived("PATCH", arrived.raw_path, arrived.raw_query, arrived.headers, arrived.body)
    yield Arrived(arrived.method, arrived.raw_path, arrived.raw_query + "&extra=1", arrived.headers, arrived.body)
    for name in claim.signed_headers:
        if name not in ("x-amz-date", "x-amz-security-token"):
            changed = {**arrived.headers, name: arrived.headers[name] + "x"}
            yield Arrived(arrived.method, arrived.raw_path, arrived.raw_query, changed, arrived.body)


@pytest.mark.parametrize("presigned", [False, True])
def test_any_change_to_what_was_signed_is_refused(presigned: bool) -> None:
    rng = random.Random(99 + presigned)
    for _ in range(60):
        arrived, _, _ = _sign(rng, presigned=presigned)
        for changed in _tampered(rng, arrived):
            with pytest.raises(SigV4Error) as caught:
                sigv4.verify(changed, "lambda", _lookup, now_s=NOW_S)
            assert caught.value.kind is Kind.BAD_SIGNATURE, changed


def test_wrong_secret_unknown_key_and_wrong_service() -> None:
    rng = random.Random(7)
    arrived, _, _ = _sign(rng, presigned=False)
    other = Credential(KEY.access_key, "not-the-secret")
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "lambda", lambda a, t: other, now_s=NOW_S)
    assert (caught.value.kind, caught.value.message) == (Kind.BAD_SIGNATURE, sigv4.SIGNATURE_MISMATCH)
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "lambda", lambda a, t: None, now_s=NOW_S)
    assert (caught.value.kind, caught.value.message) == (Kind.UNKNOWN_KEY, sigv4.INVALID_TOKEN)
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "sqs", _lookup, now_s=NOW_S)
    assert caught.value.message == "Credential should be scoped to correct service: 'sqs'. "


def test_clock_skew_both_ways_with_aws_wording() -> None:
    arrived, _, _ = _sign(random.Random(3), presigned=False)
    sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S + 299)
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S + 301)
    assert caught.value.kind is Kind.SKEW
    assert caught.value.message == ("Signature expired: 20240517T123045Z is now earlier than 20240517T123046Z "
                                    "(20240517T123546Z - 5 min.)")
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S - 301)
    assert caught.value.message == ("Signature not yet current: 20240517T123045Z is still later than "
                                    "20240517T123044Z (20240517T122544Z + 5 min.)")


def test_presigned_url_expires_after_its_expires_seconds() -> None:
    arrived, _, _ = _sign(random.Random(5), presigned=True)
    sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S + 600)  # X-Amz-Expires=600
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S + 601)
    assert (caught.value.kind, caught.value.message) == (Kind.EXPIRED, "Request has expired")


def test_session_token_reaches_the_lookup() -> None:
    rng = random.Random(11)
    seen: list[str | None] = []
    for _ in range(20):
        arrived, _, token = _sign(rng, presigned=rng.random() < 0.5)
        seen.clear()
        def lookup(_: str, t: str | None) -> Credential:
            seen.append(t)
            return KEY

        sigv4.verify(arrived, "lambda", lookup, now_s=NOW_S)
        assert seen == [token]


@pytest.mark.parametrize(("authorization", "kind", "start"), [
    ("garbage", Kind.INCOMPLETE, "Authorization header requires 'Credential' parameter. Authorization header "
     "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."),
    ("AWS AKID:c2lnbmF0dXJl", Kind.INCOMPLETE, "Authorization header requires 'Credential' parameter."),
    ("AWS4-HMAC-SHA256 Credential=AKID/20240517/us-east-1/lambda/aws4_request, SignedHeaders=host",
     Kind.INCOMPLETE, "Authorization header requires 'Signature' parameter."),
    ("AWS4-HMAC-SHA256 Credential AKID/20240517/us-east-1/lambda/aws4_request", Kind.INCOMPLETE,
     "'Credential AKID/20240517/us-east-1/lambda/aws4_request' not a valid key=value pair"),
    ("AWS4-HMAC-SHA256 Credential=AKID/20240517/lambda/aws4_request, SignedHeaders=host, Signature=00",
     Kind.INCOMPLETE, "Credential should be scoped to a valid region"),
])
def test_malformed_authorization_headers(authorization: str, kind: Kind, start: str) -> None:
    arrived = Arrived("GET", "/", "", {"authorization": authorization, "host": "h", "x-amz-date": "20240517T123045Z"}, b"")
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S)
    assert caught.value.kind is kind
    assert caught.value.message.startswith(start), caught.value.message


def test_unsigned_request_is_missing_authentication() -> None:
    with pytest.raises(SigV4Error) as caught:
        sigv4.verify(Arrived("GET", "/2015-03-31/functions/", "", {"host": "h"}, b""), "lambda", _lookup)
    assert caught.value.kind is Kind.MISSING


def test_date_header_stands_in_for_x_amz_date() -> None:
    """Clients may sign the Date header instead of X-Amz-Date (botocore itself never does, so sign by hand)."""
    headers = {"date": "Fri, 17 May 2024 12:30:45 GMT", "host": "127.0.0.1:4566"}
    claim = sigv4.Claim(KEY.access_key, "20240517", "us-east-1", "lambda", ("date", "host"), "", "20240517T123045Z",
                        None, False)
    arrived = Arrived("GET", "/2015-03-31/functions/", "", headers, b"")
    good = sigv4.signature(KEY.secret_key, claim, sigv4.string_to_sign(claim, sigv4.canonical_request(arrived, claim)))
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={KEY.access_key}/20240517/us-east-1/lambda/aws4_request, "
                                f"SignedHeaders=date;host, Signature={good}")
    assert sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S) == KEY


def test_our_presigned_urls_are_botocores() -> None:
    """GetFunction's Code.Location is presigned by lambdalite: the same signature botocore would give."""
    path = "/_lambdalite/code/" + "ab" * 32 + ".zip"
    query = sigv4.presign("GET", "127.0.0.1:4566", path, KEY, TOKEN, "eu-west-3", "lambda", 600, NOW_S)
    request = AWSRequest(method="GET", url=f"http://127.0.0.1:4566{path}")
    SigV4QueryAuth(Credentials(KEY.access_key, KEY.secret_key, TOKEN), "lambda", "eu-west-3", expires=600).add_auth(request)
    assert query.rsplit("X-Amz-Signature=", 1)[1] == request.url.rsplit("X-Amz-Signature=", 1)[1]
    arrived = Arrived("GET", path, query, {"host": "127.0.0.1:4566"}, b"")
    assert sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S + 600) == KEY
    with pytest.raises(SigV4Error):
        sigv4.verify(arrived, "lambda", _lookup, now_s=NOW_S + 601)


def test_a_plus_in_the_query_signs_as_the_space_the_services_read() -> None:
    """The services read `+` in a query as a space: the signature must cover that reading, so a request
    signed for `a%2Bb` cannot be replayed as `a+b` (which the service reads as `a b`)."""
    assert sigv4.canonical_query("Marker=a+b") == sigv4.canonical_query("Marker=a%20b") == "Marker=a%20b"
    assert sigv4.canonical_query("Marker=a%2Bb") == "Marker=a%2Bb"
