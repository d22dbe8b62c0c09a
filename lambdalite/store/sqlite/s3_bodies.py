"""S3 bodies as files in the data folder (`<data>/s3/objects/ab/<id>`): every process on the data folder
finds them there, and a file is what SQLite's deployments back up beside the database.

`keep` fsyncs the spool and renames it into `objects/` (the spool lives in `<data>/s3/tmp/`, the same
file system) before the metadata naming it commits; copies and concatenations are written to a temp file
there first, fsynced, then renamed. One file per body (not content-addressed): deleting a body unlinks its
file at once, since a download holds its file open and reads it to the end regardless. A crash between
the rename and the commit (or the commit and the unlink) leaves an orphan file, never a missing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

from lambdalite.settings import Settings
from lambdalite.store.protocol import SpooledBody

READ_BYTES = 256 * 1024  # one read of a download (a thread hop each)
COPY_BYTES = 1024 * 1024  # one read of a copy


class S3BodiesStore:
    settings: Settings

    @property
    def _objects_dir(self) -> Path:
        return self.settings.data_dir / "s3" / "objects"

    @property
    def _tmp_dir(self) -> Path:
        return self.settings.data_dir / "s3" / "tmp"

    def _path(self, blob: str) -> Path:
        return self._objects_dir / blob[:2] / blob

    async def s3_body_keep(self, spool: SpooledBody) -> str:
        blob = uuid.uuid4().hex
        await asyncio.to_thread(self._keep, spool, blob)
        return blob

    def _keep(self, spool: SpooledBody, blob: str) -> None:
        spool.close()
        _fsync_file(spool.path)
        self._install(spool.path, blob)
        spool.kept = True

    def _install(self, temp: Path, blob: str) -> None:
        """Rename a complete, fsynced temp file into place, durably (the directory entry too)."""
        target = self._path(blob)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        _fsync_dir(target.parent)

    async def s3_body_write_bytes(self, data: bytes) -> str:
        return await asyncio.to_thread(self._write_bytes, data)

    def _write_bytes(self, data: bytes) -> str:
        blob, temp = uuid.uuid4().hex, self._temp_path()
        with _removed_on_error(temp), open(temp, "wb") as out:
            out.write(data)
            _flush(out)
        self._install(temp, blob)
        return blob

    async def s3_body_open(self, blob: str, offset: int, length: int) -> AsyncIterator[bytes] | None:
        try:
            file = open(self._path(blob), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            return None
        return _file_chunks(file, offset, length)

    async def s3_body_concatenate(self, blobs: list[str]) -> str | None:
        return await asyncio.to_thread(self._concatenate, blobs)

    def _concatenate(self, blobs: list[str]) -> str | None:
        blob, temp = uuid.uuid4().hex, self._temp_path()
        with _removed_on_error(temp):
            try:
                with open(temp, "wb") as out:
                    for part in blobs:
                        with open(self._path(part), "rb") as source:
                            _copy(source, out, None, None)
                    _flush(out)
            except FileNotFoundError:
                temp.unlink()
                return None
        self._install(temp, blob)
        return blob

    async def s3_body_copy_range(self, blob: str, offset: int, length: int) -> tuple[str, str] | None:
        return await asyncio.to_thread(self._copy_range, blob, offset, length)

    def _copy_range(self, blob: str, offset: int, length: int) -> tuple[str, str] | None:
        try:
            source = open(self._path(blob), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return None
        new, temp, md5 = uuid.uuid4().hex, self._temp_path(), hashlib.md5(usedforsecurity=False)
        with source, _removed_on_error(temp), open(temp, "wb") as out:
            source.seek(offset)
            _copy(source, out, length, md5)
            _flush(out)
        self._install(temp, new)
        return new, md5.hexdigest()

    async def s3_body_delete(self, blobs: list[str]) -> None:
        for blob in blobs:
            with contextlib.suppress(FileNotFoundError):
                self._path(blob).unlink()

    async def s3_prune_bodies(self, at_ms: int) -> int:
        return 0  # deleted at once: an open download keeps its file

    def _temp_path(self) -> Path:
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        return self._tmp_dir / uuid.uuid4().hex


def _copy(source: IO[bytes], out: IO[bytes], length: int | None, md5: hashlib._Hash | None) -> None:
    """Copy `length` bytes (None: to the end), hashing them into `md5` when given."""
    left = length
    while left is None or left > 0:
        chunk = source.read(COPY_BYTES if left is None else min(COPY_BYTES, left))
        if not chunk:
            if left:
                raise OSError("object file shorter than its metadata says")
            return
        out.write(chunk)
        if md5 is not None:
            md5.update(chunk)
        if left is not None:
            left -= len(chunk)


async def _file_chunks(file: IO[bytes], offset: int, length: int) -> AsyncIterator[bytes]:
    try:
        left = length
        await asyncio.to_thread(file.seek, offset)
        while left > 0:
            chunk = await asyncio.to_thread(file.read, min(READ_BYTES, left))
            if not chunk:
                raise OSError("object file shorter than its metadata says")
            left -= len(chunk)
            yield chunk
    finally:
        file.close()


@contextlib.contextmanager
def _removed_on_error(temp: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _flush(out: IO[bytes]) -> None:
    out.flush()
    os.fsync(out.fileno())


def _fsync_file(path: Path) -> None:
    """fsync by path (Linux flushes the file's data whichever descriptor asks)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)
