"""CloudWatch Logs text filter patterns (FilterLogEvents' filterPattern): terms that must all appear,
"quoted phrases", `?term` (any of these), `-term` (none of these). JSON and space-delimited patterns are
refused with AWS's error rather than matched wrongly."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from lambdalite.faults import Fault


def compile_filter(pattern: str) -> Callable[[str], bool]:
    text = pattern.strip()
    if not text:
        return lambda _message: True
    if text.startswith(("{", "[")):
        raise Fault(400, "InvalidParameterException",
                    "lambdalite supports text filter patterns only (terms, \"phrases\", ?any, -none).", type_=None)
    try:
        terms = shlex.split(text)
    except ValueError:
        raise Fault(400, "InvalidParameterException", "Invalid character(s) in term", type_=None) from None
    required = [t for t in terms if not t.startswith(("?", "-"))]
    optional = [t[1:] for t in terms if t.startswith("?") and len(t) > 1]
    excluded = [t[1:] for t in terms if t.startswith("-") and len(t) > 1]

    def matches(message: str) -> bool:
        if any(term in message for term in excluded):
            return False
        if optional and not any(term in message for term in optional):
            return False
        return all(term in message for term in required)

    return matches
