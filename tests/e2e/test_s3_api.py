"""The S3 service with real clients: boto3 (including its upload/download managers) and AWS CLI v2's
`aws s3 cp / ls / rm / sync`, and bad input answered with S3's own XML errors (never a 500)."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.awscli import run_cli
from tests.support.server import LambdaliteProcess, module_client, module_server

pytestmark = pytest.mark.both_backends  # bodies live in the store: files on SQLite, rows on PostgreSQL

server = module_server("s3-api")
s3 = module_client("s3")


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response: dict[str, Any] = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def _raw(server: LambdaliteProcess, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(server.endpoint + path, data=body or None, method=method, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=0", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_buckets_lifecycle(s3: Any) -> None:
    s3.create_bucket(Bucket="life-bucket")
    assert "life-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket="life-bucket")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket="life-bucket")["LocationConstraint"] is None
    s3.create_bucket(Bucket="life-bucket")  # us-east-1: your own bucket again is a 200
    s3.put_object(Bucket="life-bucket", Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket="life-bucket")
    assert _error(exc) == (409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
    s3.delete_object(Bucket="life-bucket", Key="k")
    s3.delete_bucket(Bucket="life-bucket")
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket="life-bucket")
    assert _error(exc)[0] == 404


def test_bucket_in_another_region(server: LambdaliteProcess) -> None:
    eu = server.client("s3", region_name="eu-west-1")
    eu.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        eu.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert _error(exc) == (409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                           "succeeded and you already own it.")
    with pytest.raises(ClientError) as exc:
        eu.create_bucket(Bucket="eu-bucket-2")
    assert _error(exc) == (400, "IllegalLocationConstraintException", "The unspecified location constraint is "
                           "incompatible for the region specific endpoint this request was sent to.")


def test_put_get_head_with_metadata_range_and_etag(s3: Any) -> None:
    s3.create_bucket(Bucket="objects")
    body = b"hello, world"
    put = s3.put_object(Bucket="objects", Key="dir/a b+c.txt", Body=body, ContentType="text/plain",
                        Metadata={"colour": "red"}, ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode())
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket="objects", Key="dir/a b+c.txt")
    assert got["Body"].read() == body
    assert (got["ContentType"], got["Metadata"], got["ContentLength"]) == ("text/plain", {"colour": "red"}, len(body))
    assert got["ETag"] == put["ETag"]
    ranged = s3.get_object(Bucket="objects", Key="dir/a b+c.txt", Range="bytes=7-")
    assert ranged["Body"].read() == b"world"
    assert ranged["ContentRange"] == f"bytes 7-11/{len(body)}"
    assert s3.get_object(Bucket="objects", Key="dir/a b+c.txt", Range="bytes=-5")["Body"].read() == b"world"
    head = s3.head_object(Bucket="objects", Key="dir/a b+c.txt")
    assert head["ContentLength"] == len(body) and head["Metadata"] == {"colour": "red"}
    s3.put_object(Bucket="objects", Key="plain", Body=b"")
    assert s3.head_object(Bucket="objects", Key="plain")["ContentType"] == "binary/octet-stream"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="objects", Key="dir/a b+c.txt", Range="bytes=100-200")
    assert _error(exc)[:2] == (416, "InvalidRange")


def test_content_md5_mismatch_is_bad_digest(s3: Any) -> None:
    s3.create_bucket(Bucket="digests")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="digests", Key="k", Body=b"data", ContentMD5=wrong)
    assert _error(exc)[:2] == (400, "BadDigest")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="digests", Key="k")
    assert _error(exc)[0] == 404


def test_listing_prefix_delimiter_and_pages(s3: Any) -> None:
    s3.create_bucket(Bucket="listing")
    keys = [f"logs/2024/{i:02d}.txt" for i in range(7)] + ["logs/readme", "photos/a.jpg", "photos/b.jpg", "top"]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())
    top = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["logs/", "photos/"]
    assert [o["Key"] for o in top["Contents"]] == ["top"]
    assert top["KeyCount"] == 3
    seen: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="listing", Prefix="logs/", PaginationConfig={
            "PageSize": 3}):
        assert page["KeyCount"] <= 3
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(k for k in keys if k.startswith("logs/"))
    nested = s3.list_objects_v2(Bucket="listing", Prefix="logs/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["logs/2024/"]
    v1: list[str] = []
    for page in s3.get_paginator("list_objects").paginate(Bucket="listing", Delimiter="/", PaginationConfig={
            "PageSize": 1}):
        v1 += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert v1 == ["logs/", "photos/", "top"]


def test_copy_and_delete_objects(s3: Any) -> None:
    s3.create_bucket(Bucket="copies")
    s3.put_object(Bucket="copies", Key="src", Body=b"payload", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket="copies", Key="dst", CopySource={"Bucket": "copies", "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    dst = s3.get_object(Bucket="copies", Key="dst")
    assert dst["Body"].read() == b"payload" and dst["Metadata"] == {"a": "1"}
    result = s3.delete_objects(Bucket="copies", Delete={"Objects": [{"Key": "src"}, {"Key": "dst"}, {"Key": "x"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dst", "src", "x"]
    assert s3.list_objects_v2(Bucket="copies")["KeyCount"] == 0
    s3.delete_object(Bucket="copies", Key="never-was")  # 204 for a missing key too


def test_multipart_etag_and_errors(s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="multi")
    part_bytes = 5 * 1024 * 1024
    parts = [os.urandom(part_bytes), os.urandom(part_bytes), b"tail"]
    upload = s3.create_multipart_upload(Bucket="multi", Key="big", Metadata={"m": "v"})["UploadId"]
    etags = [s3.upload_part(Bucket="multi", Key="big", UploadId=upload, PartNumber=n + 1, Body=p)["ETag"]
             for n, p in enumerate(parts)]
    listed = s3.list_parts(Bucket="multi", Key="big", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=upload, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]})
    assert _error(exc)[:2] == (400, "InvalidPartOrder")
    done = s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert done["ETag"] == f'"{expected}-3"'
    got = s3.get_object(Bucket="multi", Key="big")
    assert got["Body"].read() == b"".join(parts) and got["Metadata"] == {"m": "v"}
    small = s3.create_multipart_upload(Bucket="multi", Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=1, Body=b"tiny")["ETag"]
    e2 = s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=2, Body=b"tiny")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket="multi", Key="small", UploadId=small, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert _error(exc) == (400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
    s3.abort_multipart_upload(Bucket="multi", Key="small", UploadId=small)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket="multi", Key="small", UploadId=small)
    assert _error(exc)[:2] == (404, "NoSuchUpload")


def test_transfer_managers_round_trip(s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="managers")
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(20 * 1024 * 1024 + 17))  # above the 8 MiB threshold: multipart, ranged GETs
    s3.upload_file(str(source), "managers", "file.bin")
    assert s3.head_object(Bucket="managers", Key="file.bin")["ETag"].endswith('-3"')
    target = tmp_path / "target.bin"
    s3.download_file("managers", "file.bin", str(target))
    assert target.read_bytes() == source.read_bytes()
    s3.copy({"Bucket": "managers", "Key": "file.bin"}, "managers", "copy.bin")  # UploadPartCopy, ranged
    copied = tmp_path / "copied.bin"
    s3.download_file("managers", "copy.bin", str(copied))
    assert copied.read_bytes() == source.read_bytes()
    assert s3.head_object(Bucket="managers", Key="copy.bin")["ETag"].endswith('-3"')


def test_errors_are_s3_xml_never_500(server: LambdaliteProcess, s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    assert _error(exc) == (404, "NoSuchBucket", "The specified bucket does not exist")
    assert exc.value.response["Error"]["BucketName"] == "no-such-bucket"
    s3.create_bucket(Bucket="errors")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="errors", Key="missing")
    assert _error(exc) == (404, "NoSuchKey", "The specified key does not exist.")
    assert exc.value.response["Error"]["Key"] == "missing"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="Bad_Name")
    assert _error(exc) == (400, "InvalidBucketName", "The specified bucket is not valid.")
    status, body = _raw(server, "POST", "/errors?delete", b"<Delete><Object><Key>a</Key></Object")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body and body.startswith(b'<?xml version="1.0"')
    status, body = _raw(server, "PUT", "/errors?notification", b"not xml at all")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    status, body = _raw(server, "POST", "/errors/k?uploadId=nope", b"<CompleteMultipartUpload/>")
    assert status == 404 and b"<Code>NoSuchUpload</Code>" in body
    status, body = _raw(server, "PUT", "/errors/k?partNumber=0&uploadId=x", b"data")
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body
    status, body = _raw(server, "GET", "/errors?list-type=2&max-keys=lots")
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body
    status, body = _raw(server, "GET", "/errors?tagging")
    assert status == 501 and b"<Code>NotImplemented</Code>" in body
    assert "Traceback" not in server.log_text() and "internal error" not in server.log_text()


def test_aws_cli_v2_cp_ls_sync_rm(server: LambdaliteProcess, tmp_path: Path) -> None:
    run_cli(2, server.endpoint, ["s3", "mb", "s3://cli-bucket"], cwd=tmp_path)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("one")
    (folder / "sub" / "two.txt").write_text("two")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # multipart at >= 8 MiB
    run_cli(2, server.endpoint, ["s3", "cp", str(big), "s3://cli-bucket/big.bin"], cwd=tmp_path)
    run_cli(2, server.endpoint, ["s3", "sync", str(folder), "s3://cli-bucket/folder"], cwd=tmp_path)
    listing = run_cli(2, server.endpoint, ["s3", "ls", "s3://cli-bucket/"], cwd=tmp_path).stdout
    assert "PRE folder/" in listing and "big.bin" in listing
    recursive = run_cli(2, server.endpoint, ["s3", "ls", "--recursive", "s3://cli-bucket/"], cwd=tmp_path).stdout
    assert "folder/sub/two.txt" in recursive and "folder/one.txt" in recursive
    again = run_cli(2, server.endpoint, ["s3", "sync", str(folder), "s3://cli-bucket/folder"], cwd=tmp_path).stdout
    assert again.strip() == ""  # nothing changed: nothing copied
    back = tmp_path / "back"
    run_cli(2, server.endpoint, ["s3", "cp", "s3://cli-bucket/big.bin", str(back / "big.bin")], cwd=tmp_path)
    assert (back / "big.bin").read_bytes() == big.read_bytes()
    run_cli(2, server.endpoint, ["s3", "sync", "s3://cli-bucket/folder", str(back / "folder")], cwd=tmp_path)
    assert (back / "folder" / "sub" / "two.txt").read_text() == "two"
    run_cli(2, server.endpoint, ["s3", "rm", "--recursive", "s3://cli-bucket/folder"], cwd=tmp_path)
    left = run_cli(2, server.endpoint, ["s3", "ls", "--recursive", "s3://cli-bucket/"], cwd=tmp_path).stdout
    assert "folder/" not in left and "big.bin" in left
    run_cli(2, server.endpoint, ["s3", "rb", "--force", "s3://cli-bucket"], cwd=tmp_path)


def test_aws_chunked_body_with_trailing_checksum(server: LambdaliteProcess, s3: Any) -> None:
    s3.create_bucket(Bucket="chunked")
    crc = base64.b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode()
    headers = {"Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
               "x-amz-decoded-content-length": "11", "x-amz-trailer": "x-amz-checksum-crc32"}

    def body(checksum: str) -> bytes:
        return f"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()

    status, _ = _raw(server, "PUT", "/chunked/k", body(crc), headers)
    assert status == 200
    got = s3.get_object(Bucket="chunked", Key="k")
    assert got["Body"].read() == b"hello world" and "ContentEncoding" not in got
    wrong = base64.b64encode((1).to_bytes(4, "big")).decode()
    status, answer = _raw(server, "PUT", "/chunked/k2", body(wrong), headers)
    assert status == 400 and b"<Code>BadDigest</Code>" in answer
    assert b"The CRC32 you specified did not match the calculated checksum." in answer
    status, answer = _raw(server, "PUT", "/chunked/k3", b"5\r\nhel", headers)
    assert status == 400 and b"<Code>IncompleteBody</Code>" in answer
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="chunked")["Contents"]] == ["k"]


def test_conditional_gets_overrides_and_key_length(s3: Any) -> None:
    s3.create_bucket(Bucket="conditions")
    etag = s3.put_object(Bucket="conditions", Key="k", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket="conditions", Key="k", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="conditions", Key="k", IfMatch='"0123"')
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="conditions", Key="k", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    got = s3.get_object(Bucket="conditions", Key="k", ResponseContentType="text/csv",
                        ResponseContentDisposition="attachment; filename=k.csv")
    assert (got["ContentType"], got["ContentDisposition"]) == ("text/csv", "attachment; filename=k.csv")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="conditions", Key="k" * 1025, Body=b"x")
    assert _error(exc) == (400, "KeyTooLongError", "Your key is too long")
