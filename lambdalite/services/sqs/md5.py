"""MD5 digests exactly as SQS computes them (SDKs such as Java's and Go's compare them with their own).

Attributes: for each name in sorted order, length-prefixed (4-byte big-endian) name and data type, one
transport byte (1 string, 2 binary, 3 string list, 4 binary list), then the length-prefixed value(s).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping
from typing import Any

_STRING, _BINARY, _STRING_LIST, _BINARY_LIST = b"\x01", b"\x02", b"\x03", b"\x04"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def binary_of(value: Any) -> bytes:
    """A BinaryValue as it travels in JSON (base64 text) or already as bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(value)


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """MD5OfMessageAttributes (also MD5OfMessageSystemAttributes) of JSON-shaped attribute values."""
    parts: list[bytes] = []
    for name in sorted(attributes):
        value = attributes[name]
        data_type = str(value.get("DataType", ""))
        parts.append(_prefixed(name.encode()))
        parts.append(_prefixed(data_type.encode()))
        if value.get("StringValue") is not None:
            parts.append(_STRING + _prefixed(str(value["StringValue"]).encode()))
        elif value.get("BinaryValue") is not None:
            parts.append(_BINARY + _prefixed(binary_of(value["BinaryValue"])))
        elif value.get("StringListValues"):
            parts.append(_STRING_LIST + b"".join(_prefixed(str(v).encode()) for v in value["StringListValues"]))
        elif value.get("BinaryListValues"):
            parts.append(_BINARY_LIST + b"".join(_prefixed(binary_of(v)) for v in value["BinaryListValues"]))
    return md5_hex(b"".join(parts))
