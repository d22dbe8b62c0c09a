"""The `Lineage` field of the X-Amzn-Trace-Id header: how a chain's invocation count travels (section 10).

lambdalite hands each invocation a trace header (Runtime API `Lambda-Runtime-Trace-Id`); the runtime
puts it in `_X_AMZN_TRACE_ID` and botocore copies that into the `X-Amzn-Trace-Id` header of the
function's own SDK calls, so an Invoke made by a function carries its caller's count back in.

AWS writes `Lineage=<hash>:<count>`, newer headers `Lineage=<version>:<hash>:<count>`, several entries
joined by `|`. lambdalite reads the largest count of any entry and writes one entry,
`<crc32 of the function name, 8 hex>:<count>`. Pure: no I/O.
"""

from __future__ import annotations

import random
import time
import zlib

LINEAGE_KEY = "Lineage"
MAX_COUNT_DIGITS = 9  # a count longer than this is not one lambdalite or AWS wrote: ignored


def lineage_count(header: str | None) -> int:
    """The invocations already in this chain: the largest Lineage count, 0 without a (valid) one."""
    if not header or LINEAGE_KEY not in header:
        return 0
    best = 0
    for field in header.split(";"):
        key, sep, value = field.strip().partition("=")
        if not sep or key != LINEAGE_KEY:
            continue
        for entry in value.split("|"):
            count = entry.rpartition(":")[2].strip()
            if count.isascii() and count.isdigit() and len(count) <= MAX_COUNT_DIGITS:
                best = max(best, int(count))
    return best


def lineage_tag(function_name: str) -> str:
    """The entry's hash part: stable per function, 8 hex digits like AWS's."""
    return f"{zlib.crc32(function_name.encode()):08x}"


def with_lineage(header: str | None, count: int, tag: str) -> str:
    """`header` (a new one when None or empty) with its Lineage field replaced by `tag:count`."""
    base = header.strip() if header and header.strip() else new_header()
    kept = [f for f in base.split(";") if f.strip() and f.strip().partition("=")[0] != LINEAGE_KEY]
    kept.append(f"{LINEAGE_KEY}={tag}:{count}")
    return ";".join(kept)


def new_header() -> str:
    """A fresh X-Ray trace header (not a secret: no urandom call)."""
    return (f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x};"
            f"Parent={random.getrandbits(64):016x};Sampled=0")
