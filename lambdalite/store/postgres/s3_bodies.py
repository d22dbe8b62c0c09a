"""S3 bodies in the database (0032_s3_bodies.sql), so every API node serves every object: a body is a row
of `s3_bodies` and its bytes are `s3_body_chunks` rows of up to CHUNK_BYTES, keyed by the offset of their
first byte (docs/decisions.md, "S3 bodies on PostgreSQL").

Writing streams the spool file (which stays on this node's disk while the request arrives) into chunk
rows, a few chunks per COPY, in one transaction that commits durably before the metadata naming the body
does. Reading fetches one chunk per statement (no connection is held while a client drains it), and a
range reads only the chunks it covers, and of its edge chunks only the bytes it needs (`substring` of an
uncompressed TOAST value). Concatenation copies chunk rows inside the database. A deleted body is marked
at once (opening it fails) and its chunks are freed READ_GRACE_MS later (`s3_prune_bodies`), so that a
download under way finishes, as one holding an open file does on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from lambdalite.clock import now_ms
from lambdalite.settings import Settings
from lambdalite.store.postgres.db import POOL_MAX, STATEMENT_TIMEOUT_S
from lambdalite.store.protocol import SpooledBody

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import Conn, PgDatabase

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK_BYTES = 1024 * 1024
BATCH_CHUNKS = 4  # chunks per COPY: what a write holds in memory at once
READ_GRACE_MS = 15 * 60 * 1000  # a download may still read a deleted body this long
PRUNE_BATCH = 100  # bodies freed per maintenance round
ORPHAN_AGE_MS = 24 * 3600 * 1000  # a body no committed object or part names after this was kept in vain
# Body writes hold a connection for their whole transaction: at most half the pool at once, so a burst of
# large uploads never holds up the node's other work (accepts, leases) waiting for a connection.
MAX_BODY_WRITES = POOL_MAX // 2
COPY_BYTES_PER_S = 20 * 1024 * 1024  # the slowest in-database copy a statement's timeout allows for
_CHUNK_COLUMNS = ("blob", "start_byte", "data")
_MAX_PIECE = 1 << 30  # substring() counts in int4; chunks are far smaller
FetchRow = Callable[..., Awaitable[Any]]
# A live body's row (None: gone) with the start of the chunk holding byte $2 (None: no such chunk).
_FIRST_CHUNK = ("SELECT (SELECT max(start_byte) FROM s3_body_chunks WHERE blob = $1 AND start_byte <= $2) "
                "FROM s3_bodies WHERE blob = $1 AND dropped_ms IS NULL")


class S3BodiesStore:
    db: PgDatabase
    settings: Settings
    _body_writes: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def _write_body(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """`db.write(fn)` for a write that copies a body: at most MAX_BODY_WRITES of them at once."""
        loop = asyncio.get_running_loop()
        if self._body_writes is None or self._body_writes[0] is not loop:
            self._body_writes = (loop, asyncio.Semaphore(MAX_BODY_WRITES))
        async with self._body_writes[1]:
            return await self.db.write(fn)

    async def adopt_local_bodies(self) -> int:
        """Move the body files an earlier version kept in this node's data folder (`s3/objects/ab/<id>`)
        into the database under their own ids, so that every node serves them; how many. Each file goes
        once its copy committed: a crash midway repeats the rest at the next start."""
        root = self.settings.data_dir / "s3" / "objects"
        files = await asyncio.to_thread(lambda: sorted(root.glob("*/*")) if root.is_dir() else [])
        for path in files:
            with contextlib.suppress(FileNotFoundError):  # moved by a process on the same data folder
                await self._write_body(functools.partial(_adopt, path=path))
                await asyncio.to_thread(path.unlink)
        if files:
            log.warning("moved %d S3 bodies from %s into the database", len(files), root)
        await asyncio.to_thread(_remove_empty, root)
        return len(files)

    async def s3_body_keep(self, spool: SpooledBody) -> str:
        await asyncio.to_thread(spool.close)
        blob = uuid.uuid4().hex
        await self._write_body(lambda c: _write_file(c, blob, spool.path, spool.size))
        return blob

    async def s3_body_write_bytes(self, data: bytes) -> str:
        blob = uuid.uuid4().hex

        async def fn(c: Conn) -> None:
            await _insert_body(c, blob, len(data))
            rows = [(blob, start, data[start:start + CHUNK_BYTES]) for start in range(0, len(data), CHUNK_BYTES)]
            if rows:
                await c.copy_records_to_table("s3_body_chunks", records=rows, columns=_CHUNK_COLUMNS)

        await self._write_body(fn)
        return blob

    async def s3_body_open(self, blob: str, offset: int, length: int) -> AsyncIterator[bytes] | None:
        found = await self.db.fetchrow(_FIRST_CHUNK, blob, offset)
        return None if found is None else _pieces(self.db.fetchrow, blob, found[0], offset, length)

    async def s3_body_concatenate(self, blobs: list[str]) -> str | None:
        blob = uuid.uuid4().hex
        done = await self._write_body(lambda c: _concatenate(c, blob, blobs))
        return blob if done else None

    async def s3_body_copy_range(self, blob: str, offset: int, length: int) -> tuple[str, str] | None:
        new = uuid.uuid4().hex
        md5_hex = await self._write_body(lambda c: _copy_range(c, new, blob, offset, length))
        return None if md5_hex is None else (new, md5_hex)

    async def s3_body_delete(self, blobs: list[str]) -> None:
        if blobs:
            await self.db.write(lambda c: c.execute(
                "UPDATE s3_bodies SET dropped_ms = $2 WHERE blob = ANY($1::text[]) AND dropped_ms IS NULL",
                blobs, now_ms()))

    async def s3_prune_bodies(self, at_ms: int) -> int:
        orphans = await self.db.write(lambda c: c.fetch(
            """UPDATE s3_bodies SET dropped_ms = $1 WHERE blob IN (SELECT blob FROM s3_bodies
               WHERE NOT named AND dropped_ms IS NULL AND created_ms < $2 LIMIT $3 FOR UPDATE SKIP LOCKED)
               RETURNING 1""", at_ms, at_ms - ORPHAN_AGE_MS, PRUNE_BATCH), durable=False)
        if orphans:
            log.warning("dropping %d S3 bodies no object or part named within a day (kept by requests that "
                        "did not finish)", len(orphans))
        due = await self.db.fetch("SELECT blob, size FROM s3_bodies WHERE dropped_ms <= $1 ORDER BY dropped_ms "
                                  "LIMIT $2", at_ms - READ_GRACE_MS, PRUNE_BATCH)
        freed = 0
        for blob, size in due:  # one body per statement, its time bounded by its size: large bodies free too
            if await self.db.write(functools.partial(_free_body, blob=blob, size=size), durable=False):
                freed += 1
        return freed


async def _free_body(conn: Conn, *, blob: str, size: int) -> bool:
    """Delete a dropped body with its chunks (unless another node's maintenance did it first)."""
    return bool(await conn.fetchval("DELETE FROM s3_bodies WHERE blob = $1 AND dropped_ms IS NOT NULL RETURNING true",
                                    blob, timeout=STATEMENT_TIMEOUT_S + size / COPY_BYTES_PER_S))


async def name_body(conn: Conn, blob: str) -> None:
    """In the transaction that commits the object or part row naming `blob`: it is no orphan."""
    await conn.execute("UPDATE s3_bodies SET named = true WHERE blob = $1 AND NOT named", blob)


async def _insert_body(conn: Conn, blob: str, size: int) -> None:
    await conn.execute("INSERT INTO s3_bodies(blob, size, created_ms) VALUES ($1, $2, $3)", blob, size, now_ms())


async def _adopt(conn: Conn, path: Path) -> None:
    """One old body file copied in, unless a process on the same data folder did it first."""
    size = (await asyncio.to_thread(path.stat)).st_size
    if await conn.fetchval("INSERT INTO s3_bodies(blob, size, created_ms, named) VALUES ($1, $2, $3, true) "
                           "ON CONFLICT DO NOTHING RETURNING 1", path.name, size, now_ms()):
        await _copy_file(conn, path.name, path, size)


def _remove_empty(root: Path) -> None:
    if root.is_dir():
        for folder in root.iterdir():
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


async def _write_file(conn: Conn, blob: str, path: Path, size: int) -> None:
    await _insert_body(conn, blob, size)
    await _copy_file(conn, blob, path, size)


async def _copy_file(conn: Conn, blob: str, path: Path, size: int) -> None:
    """The file's bytes as the body's chunks, BATCH_CHUNKS per COPY (bounded memory, short statements)."""
    file = await asyncio.to_thread(open, path, "rb")
    try:
        start = 0
        while rows := await asyncio.to_thread(_read_batch, file, blob, start):
            await conn.copy_records_to_table("s3_body_chunks", records=rows, columns=_CHUNK_COLUMNS)
            start += sum(len(r[2]) for r in rows)
    finally:
        await asyncio.to_thread(file.close)
    if start != size:
        raise OSError(f"the spooled body holds {start} bytes, not {size}")


def _read_batch(file: IO[bytes], blob: str, start: int) -> list[tuple[str, int, bytes]]:
    rows: list[tuple[str, int, bytes]] = []
    while len(rows) < BATCH_CHUNKS and (data := file.read(CHUNK_BYTES)):
        rows.append((blob, start, data))
        start += len(data)
    return rows


async def _pieces(fetchrow: FetchRow, blob: str, start: int | None, offset: int,
                  length: int) -> AsyncIterator[bytes]:
    """`length` bytes from `offset`, one chunk (or the part of an edge chunk the range needs) per statement;
    `start`: where the chunk holding `offset` starts."""
    end = offset + length
    position = offset
    while position < end:
        row = None if start is None else await fetchrow(
            "SELECT octet_length(data), substring(data FROM $3 FOR $4) FROM s3_body_chunks "
            "WHERE blob = $1 AND start_byte = $2", blob, start, position - start + 1, min(end - position, _MAX_PIECE))
        if row is None or not row[1]:
            raise OSError(f"S3 body {blob} is shorter than its metadata says (or was freed while read)")
        piece = bytes(row[1])
        yield piece
        position += len(piece)
        start += row[0]


async def _concatenate(conn: Conn, blob: str, parts: list[str]) -> bool:
    """The parts' chunk rows copied inside the database, shifted by the sizes of the parts before them."""
    rows = await conn.fetch("SELECT blob, size FROM s3_bodies WHERE blob = ANY($1::text[]) AND dropped_ms IS NULL "
                            "FOR SHARE", parts)
    sizes = {r[0]: r[1] for r in rows}
    if any(part not in sizes for part in parts):
        return False
    await _insert_body(conn, blob, sum(sizes[p] for p in parts))
    offset = 0
    for part in parts:
        await conn.execute("INSERT INTO s3_body_chunks(blob, start_byte, data) SELECT $1, start_byte + $2, data "
                           "FROM s3_body_chunks WHERE blob = $3", blob, offset, part,
                           timeout=STATEMENT_TIMEOUT_S + sizes[part] / COPY_BYTES_PER_S)
        offset += sizes[part]
    return True


async def _copy_range(conn: Conn, new: str, blob: str, offset: int, length: int) -> str | None:
    """The range through this process (its MD5 is the part's ETag), a chunk at a time; the hex MD5."""
    found = await conn.fetchrow(_FIRST_CHUNK + " FOR SHARE", blob, offset)
    if found is None:
        return None
    await _insert_body(conn, new, length)
    md5 = hashlib.md5(usedforsecurity=False)
    position = 0
    async for piece in _pieces(conn.fetchrow, blob, found[0], offset, length):
        md5.update(piece)
        await conn.execute("INSERT INTO s3_body_chunks(blob, start_byte, data) VALUES ($1, $2, $3)",
                           new, position, piece)
        position += len(piece)
    return md5.hexdigest()
