"""Per-request cost of SigV4 verification, in microseconds: `python -m bench.auth_verify [N]`.

Requests are the accept path's own (an Event Invoke: POST with a ~1 KB JSON body), signed by botocore with
one key (as a busy client signs); each is verified the way App.respond does it (`Authenticator.refuse`).
For comparison, the same check done by rebuilding the request for botocore's signer (the road not taken,
see docs/decisions.md "Authentication").
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdalite.credentials import KeyRing
from lambdalite.services.auth import Authenticator
from lambdalite.services.http import Request
from lambdalite.sigv4 import Credential

KEY, SECRET = "AKIDBENCHMARK0000001", "bench-secret-0000000000000000000000000000"
BODY = orjson.dumps({"order": 12345, "items": [{"sku": f"sku-{i}", "qty": i} for i in range(30)]})


class _Lambda:
    name = "lambda"

    def error_response(self, error: Any, request_id: str) -> Any:
        raise AssertionError(f"refused: {error.code} {error.message}")


def signed_requests(n: int) -> list[Request]:
    signer = SigV4Auth(Credentials(KEY, SECRET), "lambda", "us-east-1")
    out = []
    for i in range(n):
        url = f"http://127.0.0.1:4566/2015-03-31/functions/fn-{i % 10}/invocations"
        aws = AWSRequest(method="POST", url=url, data=BODY, headers={
            "X-Amz-Invocation-Type": "Event", "Content-Type": "application/json",
            "User-Agent": "Boto3/1.34 md/Botocore#1.34"})
        signer.add_auth(aws)
        prepared = aws.prepare()
        headers = {k.lower(): v for k, v in prepared.headers.items()}
        headers["host"] = "127.0.0.1:4566"
        path = urlsplit(prepared.url).path
        out.append(Request(method="POST", path=path, raw_path=path, query={}, headers=headers, body=BODY))
    return out


def via_botocore(request: Request) -> None:
    """Verify by rebuilding an AWSRequest and asking botocore's signer for the signature."""
    auth = request.headers["authorization"]
    fields = dict(p.strip().split("=", 1) for p in auth.split(" ", 1)[1].split(","))
    access_key, date, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    aws = AWSRequest(method=request.method, url=f"http://{request.headers['host']}{request.raw_path}",
                     data=request.body, headers={h: request.headers[h] for h in signed})
    aws.context["timestamp"] = request.headers["x-amz-date"]
    signer = SigV4Auth(Credentials(access_key, SECRET), service, region)
    canonical = signer.canonical_request(aws)
    expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
    if expected != fields["Signature"]:
        raise AssertionError("botocore disagrees")


def per_request_us(check: Any, requests: list[Request], rounds: int = 5) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for request in requests:
            check(request)
        samples.append((time.perf_counter() - started) / len(requests) * 1e6)
    return samples


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 2000
    requests = signed_requests(n)
    with tempfile.TemporaryDirectory() as data_dir:
        auth = Authenticator(KeyRing({KEY: Credential(KEY, SECRET)}, Path(data_dir)))
        service = _Lambda()

        def ours(request: Request) -> None:
            if auth.refuse(request, service) is not None:  # type: ignore[arg-type]
                raise AssertionError("refused")

        lambdalite_us = per_request_us(ours, requests)
        botocore_us = per_request_us(via_botocore, requests)
    print(f"SigV4 verification, {n} signed Event invokes ({len(BODY)} B body), median of 5 rounds:")
    print(f"  lambdalite (sigv4.py, cached signing key): {statistics.median(lambdalite_us):6.1f} us/request")
    print(f"  via botocore's SigV4Auth (rebuilt request): {statistics.median(botocore_us):6.1f} us/request")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
