"""What SQLite keeps in the data folder but every node must share on PostgreSQL: code archives (each node
unpacks them into its own local cache keyed by CodeSha256) and secrets (the function-credentials minting
key: every node must mint and check the same keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdalite.store.postgres.db import PgDatabase


class SharedStore:
    db: PgDatabase

    async def shared_secret(self, name: str, new: bytes) -> bytes | None:
        """The secret called `name`; `new` becomes it if nobody stored one yet (first node wins)."""
        await self.db.write(lambda c: c.execute(
            "INSERT INTO shared_secrets(name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", name, new))
        value = await self.db.fetchval("SELECT value FROM shared_secrets WHERE name = $1", name)
        return bytes(value)

    async def save_code(self, sha256_hex: str, zip_bytes: bytes) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT INTO code_archives(sha256, zip) VALUES ($1, $2) ON CONFLICT DO NOTHING", sha256_hex, zip_bytes))

    async def load_code(self, sha256_hex: str) -> bytes | None:
        value = await self.db.fetchval("SELECT zip FROM code_archives WHERE sha256 = $1", sha256_hex)
        return None if value is None else bytes(value)

    async def delete_code(self, sha256_hex: str) -> None:
        await self.db.write(lambda c: c.execute(
            """DELETE FROM code_archives WHERE sha256 = $1 AND NOT EXISTS
               (SELECT 1 FROM functions WHERE code_sha = $1 UNION ALL SELECT 1 FROM function_versions
                WHERE code_sha = $1)""", sha256_hex))
