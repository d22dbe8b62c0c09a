"""S3 bodies through the Store protocol, on every backend: a spooled request body kept, read whole and by
ranges in pieces (never whole in memory), concatenated, copied by range with its MD5, deleted; a body kept
through one store instance is read through another (another node), and a download opened before a delete
reads to its end."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lambdalite.clock import now_ms
from lambdalite.services.s3.spool import Spools
from lambdalite.store.protocol import Store
from lambdalite.wakeups import Wakeups
from tests.support.backends import Backend

MIB = 1024 * 1024
DAY_MS = 24 * 3600 * 1000


async def _read(store: Store, blob: str, offset: int, length: int) -> bytes | None:
    chunks = await store.s3_body_open(blob, offset, length)
    if chunks is None:
        return None
    pieces = [piece async for piece in chunks]
    assert all(len(piece) <= MIB for piece in pieces)  # streamed, never the whole body at once
    return b"".join(pieces)


async def _keep(store: Store, spools: Spools, data: bytes) -> str:
    spool = spools.sink({})
    for start in range(0, len(data), 64 * 1024):
        spool.write(data[start:start + 64 * 1024])
    try:
        return await store.s3_body_keep(spool)
    finally:
        spool.discard()


async def test_a_kept_spool_is_read_whole_and_by_ranges_from_another_node(backend: Backend, tmp_path: Path) -> None:
    store, other = backend.open(), backend.open()
    spools = Spools(tmp_path / "node")
    data = os.urandom(2 * MIB + 12345)  # several chunks, the last one short
    blob = await _keep(store, spools, data)
    assert list(spools.tmp.iterdir()) == []  # the spool was moved or copied, and is gone from the temp folder
    assert await _read(other, blob, 0, len(data)) == data
    for offset, length in [(0, 1), (MIB - 10, 20), (MIB, MIB), (len(data) - 7, 7), (5, 2 * MIB)]:
        assert await _read(other, blob, offset, length) == data[offset:offset + length]
    assert await _read(other, blob, 3, 0) == b""


async def test_bodies_from_memory_and_the_empty_body(store: Store) -> None:
    small = await store.s3_body_write_bytes(b'{"record": 1}')
    empty = await store.s3_body_write_bytes(b"")
    assert await _read(store, small, 0, 13) == b'{"record": 1}'
    assert await _read(store, small, 2, 6) == b'record'
    assert await _read(store, empty, 0, 0) == b""
    assert small != empty


async def test_concatenation_and_copies_are_new_bodies(store: Store, tmp_path: Path) -> None:
    spools = Spools(tmp_path / "node")
    parts = [os.urandom(MIB + 3), os.urandom(5), os.urandom(2 * MIB)]
    blobs = [await _keep(store, spools, part) for part in parts]
    whole = b"".join(parts)
    joined = await store.s3_body_concatenate(blobs)
    assert joined is not None and joined not in blobs
    assert await _read(store, joined, 0, len(whole)) == whole
    across = (MIB - 2, 12)  # the end of part 1, part 2, the start of part 3
    assert await _read(store, joined, *across) == whole[across[0]:across[0] + across[1]]
    copied = await store.s3_body_copy_range(joined, MIB + 1, MIB + 100)
    assert copied is not None
    expected = whole[MIB + 1:2 * MIB + 101]
    assert copied[1] == hashlib.md5(expected, usedforsecurity=False).hexdigest()
    assert await _read(store, copied[0], 0, len(expected)) == expected
    await store.s3_body_delete(blobs)  # the copies own their bytes
    assert await _read(store, joined, 0, len(whole)) == whole
    assert await _read(store, copied[0], 0, len(expected)) == expected


async def test_missing_and_deleted_bodies(store: Store) -> None:
    assert await store.s3_body_open("no-such-body", 0, 1) is None
    assert await store.s3_body_copy_range("no-such-body", 0, 1) is None
    kept = await store.s3_body_write_bytes(b"kept")
    assert await store.s3_body_concatenate([kept, "no-such-body"]) is None
    await store.s3_body_delete(["no-such-body"])
    await store.s3_body_delete([kept])
    assert await store.s3_body_open(kept, 0, 4) is None
    assert await store.s3_body_concatenate([kept]) is None
    assert await store.s3_body_copy_range(kept, 0, 4) is None


async def test_a_download_opened_before_the_delete_reads_to_its_end(store: Store) -> None:
    data = os.urandom(3 * MIB)
    blob = await store.s3_body_write_bytes(data)
    chunks = await store.s3_body_open(blob, 0, len(data))
    assert chunks is not None
    first = await anext(chunks)
    await store.s3_body_delete([blob])
    assert await store.s3_prune_bodies(now_ms()) == 0  # too recent to free: a download may still read it
    rest = [piece async for piece in chunks]
    assert first + b"".join(rest) == data
    await store.s3_prune_bodies(now_ms() + DAY_MS)
    assert await store.s3_body_open(blob, 0, len(data)) is None


async def test_body_files_an_earlier_version_left_in_the_data_folder_stay_readable(backend: Backend) -> None:
    """Before bodies went through the store every backend kept them as `<data>/s3/objects/ab/<id>`."""
    data = os.urandom(MIB + 99)
    old = backend.data_dir / "s3" / "objects" / "ab" / "ab0123456789"
    old.parent.mkdir(parents=True)
    old.write_bytes(data)
    store = backend.open()
    await store.attach(Wakeups())  # a node's start
    assert await _read(store, old.name, 0, len(data)) == data
    assert await _read(backend.open(), old.name, MIB, 99) == data[MIB:]
