"""What every S3 operation works with: the node, where request bodies spool, and the request being answered."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field

from lambdalite.clock import now_ms
from lambdalite.model.queue import NewMessage
from lambdalite.model.s3 import BucketRecord
from lambdalite.node import Node
from lambdalite.services.http import Request
from lambdalite.services.s3 import notify_events
from lambdalite.services.s3.spool import Spools
from lambdalite.services.s3.wire import host_id, no_such_bucket, s3_error
from lambdalite.wakeups import JOBS

log = logging.getLogger(__name__)
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


@dataclass
class Call:
    """One S3 request: its bucket and key (path style), ids for the reply and for notifications."""

    node: Node
    spools: Spools
    request: Request
    bucket: str
    key: str
    request_id: str = field(default_factory=lambda: secrets.token_hex(8).upper())
    host_id: str = field(default_factory=host_id)

    @property
    def account(self) -> str:
        return self.node.settings.account_id

    @property
    def query(self) -> dict[str, str]:
        return self.request.query

    def header(self, name: str, default: str = "") -> str:
        return self.request.headers.get(name, default)

    async def bucket_record(self, name: str | None = None) -> BucketRecord:
        name = self.bucket if name is None else name
        record = await self.node.store.s3_get_bucket(name)
        if record is None:
            raise no_such_bucket(name)
        return record

    def change(self, event_name: str, key: str, size: int | None, etag: str | None,
               at_ms: int | None = None) -> notify_events.Change:
        forwarded = self.header("x-forwarded-for").split(",")[0].strip()
        source_ip = forwarded if _IP.fullmatch(forwarded) else "127.0.0.1"
        return notify_events.Change(event_name, key, size, etag, now_ms() if at_ms is None else at_ms,
                                    self.request_id, self.host_id, source_ip, self.header("x-amzn-trace-id") or None)

    def jobs(self, bucket: BucketRecord, changes: list[notify_events.Change]) -> list[NewMessage]:
        return notify_events.jobs_for(bucket, changes, self.account)

    async def drop_bodies(self, blobs: list[str]) -> None:
        await drop_bodies(self.node, blobs)

    def announce(self, jobs: list[NewMessage]) -> None:
        if jobs:
            self.node.wakeups.notify(JOBS)


async def drop_bodies(node: Node, blobs: list[str]) -> None:
    """Delete the bodies a committed change stopped naming. Best effort: the change is done and answered
    as done; a body left behind is an orphan (the state a crash right after the commit leaves too)."""
    if not blobs:
        return
    try:
        await node.store.s3_body_delete(blobs)
    except Exception:
        log.exception("S3 bodies %s could not be deleted: left as orphans", blobs)


def check_bucket_name(name: str) -> None:
    if not _BUCKET_NAME.fullmatch(name) or ".." in name or _IP.fullmatch(name):
        raise s3_error(400, "InvalidBucketName", "The specified bucket is not valid.", BucketName=name)
