"""Receipt handles: opaque to clients, unique per receive (message id + the lease's token)."""

from __future__ import annotations

import base64
import binascii
import re

_RECEIPT = re.compile(r"^[0-9a-f]{20}$")
_ID = re.compile(r"^[0-9a-f-]{36}$")
_MAGIC = "llr1"


def encode(message_id: str, receipt: str) -> str:
    return base64.b64encode(f"{_MAGIC}:{message_id}:{receipt}".encode()).decode()


def decode(handle: str) -> tuple[str, str] | None:
    """(message id, lease token), or None when the handle is not one of ours."""
    try:
        text = base64.b64decode(handle.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != _MAGIC or not _ID.fullmatch(parts[1]) or not _RECEIPT.fullmatch(parts[2]):
        return None
    return parts[1], parts[2]
