"""Request bodies on their way in: a PUT or UploadPart streams into a temp file (`<data>/s3/tmp/<id>`, this
node's disk) while it arrives, hashed on the way (MD5 for the ETag, whatever checksum the client declared,
the signed SHA-256), never held in memory. Once checked, the store makes it a body
(`Store.s3_body_keep`: where bodies live is the store's business); whatever it did not take over is
removed when the request ends.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

MAX_BODY_BYTES = 5 * 1024**3  # S3's largest single PUT (and part): more is not written (EntityTooLarge)
TMP_KEEP_S = 24 * 3600.0  # a spool untouched this long belongs to no request (LAMBDALITE_HTTP_BODY_TIMEOUT is far less)
UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-")


class Spools:
    """The temp folder request bodies stream into."""

    def __init__(self, data_dir: Path):
        self.tmp = data_dir / "s3" / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.sweep()

    def sweep(self, older_than_s: float = TMP_KEEP_S) -> None:
        """Drop spools a crash left behind (old enough that no live request still writes them)."""
        cutoff_s = time.time() - older_than_s
        for path in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff_s:
                    path.unlink()

    def sink(self, headers: dict[str, str]) -> Spool:
        return Spool(self.tmp / uuid.uuid4().hex, headers)


class Dechunker:
    """`Content-Encoding: aws-chunked` (`<hex size>[;chunk-signature=...]\r\n<data>\r\n` ... `0\r\n`,
    then trailers such as `x-amz-checksum-crc32:...` and an empty line), decoded as it arrives. Chunk
    signatures are not checked (the request's own signature covers the seed; see docs/decisions.md)."""

    MAX_LINE_BYTES = 4096

    def __init__(self, out: Callable[[bytes], None]):
        self.out = out
        self.buffer = b""
        self.left = 0
        self.state = "size"
        self.trailers: dict[str, str] = {}
        self.done = False
        self.bad = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer and not self.bad and not self.done:
            if self.state == "data":
                taken = self.buffer[:self.left]
                self.buffer = self.buffer[len(taken):]
                self.left -= len(taken)
                self.out(taken)
                if self.left == 0:
                    self.state = "crlf"
                continue
            if self.state == "crlf":
                if len(self.buffer) < 2:
                    return
                self.bad = self.buffer[:2] != b"\r\n"
                self.buffer, self.state = self.buffer[2:], "size"
                continue
            line = self._line()
            if line is None:
                return
            self._on_line(line)

    def _line(self) -> bytes | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            self.bad = len(self.buffer) > self.MAX_LINE_BYTES
            return None
        line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
        return line

    def _on_line(self, line: bytes) -> None:
        if self.state == "trailer":
            if not line:
                self.done = True
                return
            name, _, value = line.decode("latin-1").partition(":")
            self.trailers[name.strip().lower()] = value.strip()
            return
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError:
            self.bad = True
            return
        self.left, self.state = size, ("data" if size else "trailer")


class Spool:
    """A request body on its way to a file (an `http.BodySink`, a `store.protocol.SpooledBody`), hashed as
    it arrives."""

    def __init__(self, path: Path, headers: dict[str, str]):
        self.path = path
        self.file: IO[bytes] | None = open(path, "wb")  # noqa: SIM115 - open while the body arrives
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        declared = headers.get("x-amz-content-sha256", "")
        self.sha256 = hashlib.sha256() if declared and not declared.startswith(UNSIGNED) else None
        trailer = headers.get("x-amz-trailer", "").lower()
        self.crc32: int | None = 0 if "x-amz-checksum-crc32" in headers or trailer == "x-amz-checksum-crc32" else None
        self.sha1 = (hashlib.sha1(usedforsecurity=False)
                     if "x-amz-checksum-sha1" in headers or trailer == "x-amz-checksum-sha1" else None)
        chunked = "aws-chunked" in headers.get("content-encoding", "") or declared.startswith("STREAMING-")
        self.dechunker = Dechunker(self._decoded) if chunked else None
        self.error: OSError | None = None
        self.kept = False

    def write(self, chunk: bytes) -> None:
        if self.dechunker is not None:
            self.dechunker.feed(chunk)
        else:
            self._decoded(chunk)

    def _decoded(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.file is None:
            return
        if self.size > MAX_BODY_BYTES:  # counted on, never written: the disk is not filled by one request
            self._close()
            return
        self.md5.update(chunk)
        if self.sha256 is not None and self.dechunker is None:
            self.sha256.update(chunk)
        if self.crc32 is not None:
            self.crc32 = zlib.crc32(chunk, self.crc32)
        if self.sha1 is not None:
            self.sha1.update(chunk)
        try:
            self.file.write(chunk)
        except OSError as err:  # disk full: answered when the request is handled
            self.error = err
            self._close()

    def checksums(self) -> dict[str, str]:
        """Declared-checksum header -> what arrived (base64, as the headers carry them)."""
        out: dict[str, str] = {}
        if self.crc32 is not None:
            out["x-amz-checksum-crc32"] = base64.b64encode(self.crc32.to_bytes(4, "big")).decode()
        if self.sha1 is not None:
            out["x-amz-checksum-sha1"] = base64.b64encode(self.sha1.digest()).decode()
        return out

    def close(self) -> None:
        """Flush and close (in a thread: `Store.s3_body_keep`); OSError when the body was not written whole."""
        if self.file is None:
            raise OSError("the body could not be written") from self.error
        self.file.flush()
        self._close()

    def _close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None

    def discard(self) -> None:
        self._close()
        if not self.kept:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class StoredBody:
    """A stored body's range sent as a response body (`http.BodyStream`), read as it is sent."""

    def __init__(self, chunks: AsyncIterator[bytes], length: int):
        self._chunks = chunks
        self.length = length

    def chunks(self) -> AsyncIterator[bytes]:
        return self._chunks
