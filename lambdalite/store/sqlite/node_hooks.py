"""The NodeStore hooks on SQLite: the data folder is shared by every process already (code archives and
the credentials secret are files in it) and wake-ups across processes come from the fallback polls."""

from __future__ import annotations

from lambdalite.wakeups import Wakeups


class NodeHooks:
    async def attach(self, wakeups: Wakeups) -> None:
        return None

    async def shared_secret(self, name: str, new: bytes) -> bytes | None:
        return None

    async def save_code(self, sha256_hex: str, zip_bytes: bytes) -> None:
        return None

    async def load_code(self, sha256_hex: str) -> bytes | None:
        return None

    async def delete_code(self, sha256_hex: str) -> None:
        return None
