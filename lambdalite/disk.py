"""Free space on the data folder's file system, against the floor below which new work is refused.

Why a floor: SQLite needs room to lease, finish and delete what is already queued (every change goes
through the WAL first). Refusing new accepts while some room is left keeps draining possible on a full
volume, instead of failing everything with the disk. Checked on every accept, so the `statvfs` answer is
reused for `CACHE_S`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CACHE_S = 1.0
MIB = 1 << 20


class FreeSpace:
    def __init__(self, path: Path, floor_mb: float, cache_s: float = CACHE_S):
        self.path = path
        self.floor_bytes = int(floor_mb * MIB)
        self.cache_s = cache_s
        self._free_bytes = -1
        self._charged_bytes = 0
        self._checked_s = float("-inf")

    def charge(self, nbytes: int) -> None:
        """Count bytes about to be written: until the next `statvfs`, they count as used (a fast burst
        of accepts cannot run past the floor within one cached second)."""
        self._charged_bytes += nbytes

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use, less what was charged since the last look (-1 when
        the folder cannot be examined)."""
        now_s = time.monotonic()
        if now_s - self._checked_s >= self.cache_s:
            try:
                stat = os.statvfs(self.path)
            except OSError:
                self._free_bytes = -1
            else:
                self._free_bytes = stat.f_bavail * stat.f_frsize
            self._charged_bytes = 0
            self._checked_s = now_s
        if self._free_bytes < 0:
            return -1
        return max(0, self._free_bytes - self._charged_bytes)

    def low(self) -> bool:
        """Below the floor (never, with a floor of 0 or a folder that cannot be examined)."""
        if self.floor_bytes <= 0:
            return False
        free = self.free_bytes()
        return 0 <= free < self.floor_bytes

    def describe(self) -> str:
        return f"{self.free_bytes() / MIB:.1f} MiB free, floor {self.floor_bytes / MIB:.1f} MiB"
