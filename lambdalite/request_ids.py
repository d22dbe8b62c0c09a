"""Request ids: random (version 4) UUID strings, made cheaply (every accept makes one)."""

from __future__ import annotations

import os
import threading

_RANDOM_IDS_PER_READ = 256
_random = b""
_random_lock = threading.Lock()


def new_request_id() -> str:
    """A random (version 4) UUID string, as uuid.uuid4() gives: os.urandom read 256 ids at a time (one
    system call per id was a tenth of the accept path), no UUID object built."""
    global _random
    with _random_lock:
        if not _random:
            _random = os.urandom(16 * _RANDOM_IDS_PER_READ)
        raw = bytearray(_random[:16])
        _random = _random[16:]
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
