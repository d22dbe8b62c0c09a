"""Pure: the simple JSONPaths EventBridge targets use (`$.detail.a[0]`): InputPath, InputPathsMap."""

from __future__ import annotations

import re
from typing import Any

_JSON_PATH = re.compile(r"\$(\.[^.\[\]]+|\[\d+\])*")
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_MISSING: Any = object()


def valid_json_path(path: str) -> bool:
    return _JSON_PATH.fullmatch(path) is not None


def select(event: Any, path: str) -> Any:
    """The value at a simple JSONPath (`$.detail.a[0]`), or _MISSING."""
    value = event
    for name, index in _PATH_STEP.findall(path[1:]):
        if name:
            value = value.get(name, _MISSING) if isinstance(value, dict) else _MISSING
        else:
            i = int(index)
            value = value[i] if isinstance(value, list) and i < len(value) else _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING
