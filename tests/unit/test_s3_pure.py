"""Pure pieces of the S3 service: aws-chunked decoding at any chunk boundary, notification matching."""

from __future__ import annotations

import pytest

from lambdalite.services.s3.notify_config import Config
from lambdalite.services.s3.spool import Dechunker

BODY = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(BODY)])
def test_dechunker_decodes_whatever_the_pieces(step: int) -> None:
    out: list[bytes] = []
    decoder = Dechunker(out.append)
    for at in range(0, len(BODY), step):
        decoder.feed(BODY[at:at + step])
    assert b"".join(out) == b"hello world"
    assert decoder.done and not decoder.bad
    assert decoder.trailers == {"x-amz-checksum-crc32": "AAAAAA=="}


@pytest.mark.parametrize("body", [b"zz\r\nhello", b"5\r\nhelloXX6\r\n", b"5" * 5000])
def test_dechunker_refuses_malformed_framing(body: bytes) -> None:
    decoder = Dechunker(lambda chunk: None)
    decoder.feed(body)
    assert decoder.bad or not decoder.done


def test_dechunker_cut_short_is_not_done() -> None:
    decoder = Dechunker(lambda chunk: None)
    decoder.feed(BODY[:20])
    assert not decoder.done and not decoder.bad


def test_configuration_matching() -> None:
    config = Config("id", "lambda", "arn", ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
                    [["Prefix", "in/"], ["Suffix", ".jpg"]])
    assert config.matches("ObjectCreated:Put", "in/a.jpg")
    assert config.matches("ObjectCreated:CompleteMultipartUpload", "in/a.jpg")
    assert config.matches("ObjectRemoved:Delete", "in/b.jpg")
    assert not config.matches("ObjectRemoved:DeleteMarkerCreated", "in/b.jpg")
    assert not config.matches("ObjectCreated:Put", "out/a.jpg")
    assert not config.matches("ObjectCreated:Put", "in/a.png")
