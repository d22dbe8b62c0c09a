"""Object and part bodies as files in the data folder (`<data>/s3/objects/ab/<uuid>`), never in memory.

A body streams into a temp file (`<data>/s3/tmp/`) while it arrives, hashed on the way (MD5 for the
ETag, and whatever checksum the client declared); `keep` fsyncs it and renames it into `objects/` before
the metadata that names it is committed. One file per written body (not content-addressed): replacing or
deleting an object deletes its file once the change is committed. A crash between the rename and the
commit (or the commit and the delete) leaves an orphan file, never a missing one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

CHUNK_BYTES = 256 * 1024
MAX_BODY_BYTES = 5 * 1024**3  # S3's largest single PUT (and part): more is not written (EntityTooLarge)
TMP_KEEP_S = 24 * 3600.0  # a spool untouched this long belongs to no request (LAMBDALITE_HTTP_BODY_TIMEOUT is far less)
UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-")


class Blobs:
    def __init__(self, data_dir: Path):
        self.root = data_dir / "s3"
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.sweep_tmp()

    def sweep_tmp(self, older_than_s: float = TMP_KEEP_S) -> None:
        """Drop spools a crash left behind (old enough that no live request still writes them)."""
        cutoff_s = time.time() - older_than_s
        for path in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff_s:
                    path.unlink()

    def path(self, blob: str) -> Path:
        return self.objects / blob[:2] / blob

    def sink(self, headers: dict[str, str]) -> Spool:
        return Spool(self.tmp / uuid.uuid4().hex, headers)

    async def keep(self, spool: Spool) -> str:
        """Make a complete spool an object file (durable before the metadata commits); its name."""
        blob = uuid.uuid4().hex
        await asyncio.to_thread(self._keep, spool, blob)
        return blob

    def _keep(self, spool: Spool, blob: str) -> None:
        spool.finish()
        target = self.path(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(spool.path, target)
        spool.kept = True
        _fsync_dir(target.parent)

    async def concatenate(self, blobs: list[str]) -> str:
        """A new object file holding these files' bytes one after another (multipart completion)."""
        return await asyncio.to_thread(self._concatenate, blobs)

    def _concatenate(self, blobs: list[str]) -> str:
        blob = uuid.uuid4().hex
        spool_path = self.tmp / blob
        with open(spool_path, "wb") as out:
            for part in blobs:
                with open(self.path(part), "rb") as source:
                    _copy(source, out)
            out.flush()
            os.fsync(out.fileno())
        target = self.path(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(spool_path, target)
        _fsync_dir(target.parent)
        return blob

    async def copy(self, blob: str) -> str:
        """A new object file with the bytes of another (CopyObject: each object owns its file)."""
        return await self.concatenate([blob])

    async def copy_range(self, blob: str, offset: int, length: int) -> tuple[str, str]:
        """A new file with `length` bytes of another from `offset` (UploadPartCopy): (blob, hex MD5)."""
        return await asyncio.to_thread(self._copy_range, blob, offset, length)

    def _copy_range(self, blob: str, offset: int, length: int) -> tuple[str, str]:
        spool = Spool(self.tmp / uuid.uuid4().hex, {})
        try:
            with open(self.path(blob), "rb") as source:
                source.seek(offset)
                left = length
                while left > 0 and (chunk := source.read(min(1024 * 1024, left))):
                    spool.write(chunk)
                    left -= len(chunk)
            name = uuid.uuid4().hex
            self._keep(spool, name)
            return name, spool.md5.hexdigest()
        finally:
            spool.discard()

    async def write_bytes(self, data: bytes) -> tuple[str, str]:
        """A small body from memory (a destination's record): (blob, hex MD5)."""
        spool = Spool(self.tmp / uuid.uuid4().hex, {})
        spool.write(data)
        return await self.keep(spool), spool.md5.hexdigest()

    def delete(self, blobs: list[str]) -> None:
        for blob in blobs:
            with contextlib.suppress(FileNotFoundError):
                self.path(blob).unlink()

    def open(self, blob: str) -> IO[bytes] | None:
        """The body's file, opened now (a delete after this does not cut a download short); None when gone."""
        try:
            return open(self.path(blob), "rb")
        except FileNotFoundError:
            return None


def _copy(source: IO[bytes], out: IO[bytes]) -> None:
    while chunk := source.read(1024 * 1024):
        out.write(chunk)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    """A request body on its way to a file (an `http.BodySink`), hashed as it arrives."""

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

    def finish(self) -> None:
        """Flush and fsync (in a thread: `Blobs.keep`)."""
        if self.file is None:
            raise OSError("the body could not be written") from self.error
        self.file.flush()
        os.fsync(self.file.fileno())
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


class FileStream:
    """A file range sent as a response body (`http.BodyStream`), read in a thread chunk by chunk."""

    def __init__(self, file: IO[bytes], offset: int, length: int):
        self.file = file
        self.offset = offset
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            left = self.length
            await asyncio.to_thread(self.file.seek, self.offset)
            while left > 0:
                chunk = await asyncio.to_thread(self.file.read, min(CHUNK_BYTES, left))
                if not chunk:
                    raise OSError("object file shorter than its metadata says")
                left -= len(chunk)
                yield chunk
        finally:
            self.file.close()
