"""Message attributes: validation on send, selection on receive (names, "All", `prefix.*`)."""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

from lambdalite.services.sqs import errors
from lambdalite.services.sqs.md5 import binary_of

MAX_ATTRIBUTES = 10
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TYPE_PREFIXES = ("String", "Number", "Binary")

Attributes = dict[str, dict[str, Any]]


def check(given: Any) -> Attributes:
    """Validate user message attributes; return them JSON-shaped (binary values as base64 text)."""
    if not given:
        return {}
    if not isinstance(given, dict):
        raise errors.invalid_parameter("The request includes an invalid MessageAttributes value.")
    if len(given) > MAX_ATTRIBUTES:
        raise errors.invalid_parameter(
            f"Number of message attributes [{len(given)}] exceeds the allowed maximum [{MAX_ATTRIBUTES}]."
        )
    return {name: _check_one(name, value) for name, value in given.items()}


def _check_one(name: str, value: Any) -> dict[str, Any]:
    if not _NAME.fullmatch(name) or name.startswith(".") or name.endswith(".") or ".." in name:
        raise errors.invalid_parameter(f"Message attribute name '{name}' is invalid.")
    if name.lower().startswith(("aws.", "amazon.")):
        raise errors.invalid_parameter(f"Message attribute name '{name}' is reserved for use by Amazon.")
    if not isinstance(value, dict):
        raise errors.invalid_parameter(f"The message attribute '{name}' is invalid.")
    data_type = value.get("DataType")
    if not data_type:
        raise errors.invalid_parameter(f"The message attribute '{name}' must contain non-empty message attribute type.")
    base = str(data_type).split(".", 1)[0]
    if base not in _TYPE_PREFIXES:
        raise errors.invalid_parameter(
            f"The type of message attribute '{name}' is invalid. "
            "You must use only the following supported type prefixes: Binary, Number, String."
        )
    if base == "Binary":
        raw = value.get("BinaryValue")
        if raw is None or raw == "":
            raise errors.invalid_parameter(
                f"The message attribute '{name}' must contain non-empty message attribute value "
                f"for message attribute type '{data_type}'."
            )
        try:
            binary_of(raw)
        except (binascii.Error, ValueError):
            raise errors.invalid_parameter(f"The message attribute '{name}' has an invalid binary value.") from None
        return {"DataType": str(data_type), "BinaryValue": raw}
    text = value.get("StringValue")
    if text is None or text == "":
        raise errors.invalid_parameter(
            f"The message attribute '{name}' must contain non-empty message attribute value "
            f"for message attribute type '{data_type}'."
        )
    text = str(text)
    if base == "Number" and not _NUMBER.fullmatch(text):
        raise errors.invalid_parameter(f"Can't cast the value of message (user) attribute '{name}' to a number.")
    return {"DataType": str(data_type), "StringValue": text}


def size_bytes(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """What attributes count toward MaximumMessageSize (name, type and value bytes)."""
    total = 0
    for name, value in attributes.items():
        total += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "BinaryValue" in value:
            total += len(binary_of(value["BinaryValue"]))
        else:
            total += len(str(value.get("StringValue", "")).encode())
    return total


def select(attributes: Attributes, names: list[str]) -> Attributes:
    """The attributes a ReceiveMessage asked for: exact names, "All" / ".*", or `prefix.*`."""
    if not names or not attributes:
        return {}
    if "All" in names or ".*" in names:
        return attributes
    exact = {n for n in names if not n.endswith(".*")}
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    return {k: v for k, v in attributes.items() if k in exact or (prefixes and k.startswith(prefixes))}
