"""Pure ARN parsing for destination targets (no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The OnSuccess/OnFailure Destination pattern of Lambda's API model (botocore does not enforce it).
DESTINATION_PATTERN = r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
_DESTINATION_RE = re.compile(DESTINATION_PATTERN)
_FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def last_name(self) -> str:
        """The resource's name: `queue`, `bus`, `topic` from `...:queue`, `event-bus/bus`, `...:topic`."""
        return self.resource.rsplit("/", 1)[-1]


def parse(arn: str) -> Arn | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def matches_destination_pattern(arn: str) -> bool:
    return _DESTINATION_RE.fullmatch(arn) is not None


def function_of(arn: Arn) -> tuple[str, str | None] | None:
    """(name, qualifier) of a Lambda function ARN's resource `function:name[:qualifier]`."""
    if arn.service != "lambda":
        return None
    parts = arn.resource.split(":")
    if len(parts) not in (2, 3) or parts[0] != "function" or not _FUNCTION_NAME_RE.fullmatch(parts[1]):
        return None
    return parts[1], (parts[2] if len(parts) == 3 and parts[2] else None)


def bare_function_name(name_or_arn: str) -> str:
    """`f`, `f:q`, `ACCOUNT:function:f`, `arn:...:function:f[:q]` -> `f`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]
