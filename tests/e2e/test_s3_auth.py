"""S3 with SigV4 checking on: boto3 and the CLI sign S3's own way (the path as sent, the body's hash in
x-amz-content-sha256 while the body streams to disk); wrong keys get S3's error codes."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.awscli import run_cli
from tests.support.server import LambdaliteProcess, module_server

KEY, SECRET = "AKIDS3TEST", "s3-secret-key"
server = module_server("s3-auth", env={"LAMBDALITE_CREDENTIALS": f"{KEY}:{SECRET}"})


def _client(server: LambdaliteProcess, secret: str = SECRET) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def test_signed_requests_pass_with_awkward_keys(server: LambdaliteProcess, tmp_path: Path) -> None:
    s3 = _client(server)
    s3.create_bucket(Bucket="signed")
    for key in ("plain", "a b/c+d=e&f?g#h", "üñï/çødé:*", "dots/../x", "double//slash"):
        s3.put_object(Bucket="signed", Key=key, Body=key.encode())
        assert s3.get_object(Bucket="signed", Key=key)["Body"].read() == key.encode()
    source = tmp_path / "multi.bin"
    source.write_bytes(os.urandom(9 * 1024 * 1024))
    s3.upload_file(str(source), "signed", "multi.bin")
    v4 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      region_name="us-east-1", config=Config(signature_version="s3v4"))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "signed", "Key": "a b/c+d=e&f?g#h"})
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"a b/c+d=e&f?g#h"


def test_wrong_secret_and_unsigned_are_refused(server: LambdaliteProcess, tmp_path: Path) -> None:
    with pytest.raises(ClientError) as exc:
        _client(server, "wrong").list_buckets()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    result = run_cli(2, server.endpoint, ["s3", "ls", "s3://signed"], cwd=tmp_path, check=False)
    assert result.returncode != 0 and "InvalidAccessKeyId" in result.stderr
    ok = run_cli(2, server.endpoint, ["s3", "ls"], cwd=tmp_path, keys=(KEY, SECRET))
    assert ok.returncode == 0
