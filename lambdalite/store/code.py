"""Function code: validate a zip, unpack it content-addressed, keep the zip for download.

Layout under `settings.code_dir`: `<sha256 hex>/` (unpacked, read-only by convention) and
`<sha256 hex>.zip`. With a shared store (PostgreSQL) that folder is each node's local cache: archives live
in the store (`Store.save_code`) and `ensure_unpacked` fetches one a node has not seen yet. Unpacking goes to a temporary folder that is renamed into place only after every
check passed, so a refused upload leaves nothing behind and a crash leaves at most a `.tmp-*` folder.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import os
import shutil
import stat
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from lambdalite.faults import Fault

if TYPE_CHECKING:
    from lambdalite.store.protocol import NodeStore

MAX_ZIPPED_BYTES = 52_428_800
MAX_UNZIPPED_BYTES = 262_144_000
CORRUPT_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 20


class CodeError(Fault):
    """An upload AWS would refuse; `code`/`status` are AWS's error name and HTTP status."""


@dataclass(frozen=True, slots=True)
class StoredCode:
    sha256_hex: str
    sha256_b64: str  # CodeSha256 as AWS shows it
    size: int  # CodeSize: the zip's bytes
    path: Path  # the unpacked folder


def _invalid(message: str) -> CodeError:
    return CodeError(400, "InvalidParameterValueException", message)


def decode_zip_file(value: object) -> bytes:
    """Code.ZipFile arrives base64 in the JSON body."""
    if not isinstance(value, str):
        raise _invalid(CORRUPT_MESSAGE)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CodeError(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json: ZipFile is not valid base64",
        ) from None


def zip_path(code_root: Path, sha256_hex: str) -> Path:
    return code_root / f"{sha256_hex}.zip"


def store_zip(code_root: Path, data: bytes) -> StoredCode:
    """Validate and store a zip (blocking: run it in a thread). Idempotent for identical bytes."""
    if len(data) > MAX_ZIPPED_BYTES:
        raise CodeError(
            413,
            "RequestEntityTooLargeException",
            f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes",
        )
    digest = hashlib.sha256(data).digest()
    hex_name = digest.hex()
    stored = StoredCode(hex_name, base64.b64encode(digest).decode(), len(data), code_root / hex_name)
    if stored.path.is_dir() and zip_path(code_root, hex_name).is_file():
        return stored
    code_root.mkdir(parents=True, exist_ok=True)
    tmp = code_root / f".tmp-{uuid.uuid4().hex}"
    try:
        _unpack(data, tmp)
        _write_atomic(zip_path(code_root, hex_name), data)
        try:
            os.rename(tmp, stored.path)
        except OSError:  # another request stored the same bytes first
            if not stored.path.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return stored


async def ensure_unpacked(store: NodeStore, code_root: Path, sha256_hex: str) -> None:
    """Make this node's cache hold the archive (unpacked and zipped), from the store when missing here."""
    if (code_root / sha256_hex).is_dir() and zip_path(code_root, sha256_hex).is_file():
        return
    data = await store.load_code(sha256_hex)
    if data is not None:
        await asyncio.to_thread(store_zip, code_root, data)


def remove_code(code_root: Path, sha256_hex: str) -> None:
    """Delete a stored code package (when no function version uses it any more)."""
    shutil.rmtree(code_root / sha256_hex, ignore_errors=True)
    zip_path(code_root, sha256_hex).unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.zip")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _safe_member(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path; None for directories. Refuses escapes and links."""
    name = info.filename.replace("\\", "/")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise _invalid(f"{CORRUPT_MESSAGE} Symbolic links are not supported: {info.filename}")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise _invalid(f"{CORRUPT_MESSAGE} Entry escapes the function folder: {info.filename}")
    if info.is_dir() or not path.parts:
        return None
    return path


def _unpack(data: bytes, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError):
        raise _invalid(CORRUPT_MESSAGE) from None
    with archive:
        members = archive.infolist()
        if sum(info.file_size for info in members) > MAX_UNZIPPED_BYTES:
            raise _invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
        checked = [(info, _safe_member(info)) for info in members]
        _refuse_file_folder_clashes(checked)
        target.mkdir(parents=True)
        written = 0
        for info, rel in checked:
            if rel is None:
                (target / info.filename.replace("\\", "/")).mkdir(parents=True, exist_ok=True)
                continue
            written += _extract_one(archive, info, target / rel, MAX_UNZIPPED_BYTES - written)


def _refuse_file_folder_clashes(checked: list[tuple[zipfile.ZipInfo, PurePosixPath | None]]) -> None:
    """A name used both as a file and as a folder (`a` and `a/b`) cannot be unpacked: 400, not a crash."""
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    for info, rel in checked:
        path = rel if rel is not None else PurePosixPath(info.filename.replace("\\", "/"))
        if rel is not None:
            files.add(path)
        elif path.parts:
            folders.add(path)
        folders.update(path.parents)
    for clash in sorted(files & folders):
        raise _invalid(f"{CORRUPT_MESSAGE} The entry {clash} is both a file and a folder.")


def _extract_one(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget_bytes: int) -> int:
    """Copy one member, counting real bytes (declared sizes can lie); keep its exec bits."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with archive.open(info) as src, open(dest, "wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > budget_bytes:
                    raise _invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        raise _invalid(CORRUPT_MESSAGE) from None
    mode = (info.external_attr >> 16) & 0o777
    os.chmod(dest, 0o755 if mode & 0o111 else 0o644)
    return written
