"""Queue attributes: defaults, validation of what clients set, and what GetQueueAttributes returns."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from lambdalite.model.sqs import redrive_of as redrive_of  # the one parser, shared with the mapping pollers
from lambdalite.services.sqs import errors

DEFAULTS: dict[str, str] = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}

# attribute -> inclusive (low, high)
_RANGES: dict[str, tuple[int, int]] = {
    "VisibilityTimeout": (0, 43200),
    "MaximumMessageSize": (1024, 1048576),
    "MessageRetentionPeriod": (60, 1209600),
    "DelaySeconds": (0, 900),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "KmsDataKeyReusePeriodSeconds": (60, 86400),
}
_FREE_TEXT = frozenset({"Policy", "KmsMasterKeyId", "RedriveAllowPolicy"})
_BOOLEANS = frozenset({"SqsManagedSseEnabled"})
_FIFO_ONLY = frozenset({"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"})
COMPUTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
_ARN = re.compile(r"^arn:aws[\w-]*:sqs:[\w-]+:\d{12}:[\w-]{1,80}$")


def check_settable(
    given: Mapping[str, Any], dlq_exists: Callable[[str], bool], own_arn: str | None = None
) -> dict[str, str]:
    """Validate attributes a client sets; return them normalised (all strings)."""
    out: dict[str, str] = {}
    for name, raw in given.items():
        value = "" if raw is None else str(raw)
        if name in _FIFO_ONLY:
            if name == "FifoQueue" and value.lower() == "false":
                continue
            raise errors.fifo_unsupported()
        if name in _RANGES:
            low, high = _RANGES[name]
            if not re.fullmatch(r"-?\d+", value.strip()) or not low <= int(value) <= high:
                raise errors.invalid_attribute_value(name)
            out[name] = str(int(value))
        elif name == "RedrivePolicy":
            out[name] = _check_redrive(value, dlq_exists, own_arn)
        elif name in _BOOLEANS:
            if value.lower() not in ("true", "false"):
                raise errors.invalid_attribute_value(name)
            out[name] = value.lower()
        elif name in _FREE_TEXT:
            out[name] = value
        else:
            raise errors.unknown_attribute(name)
    return out


def _check_redrive(value: str, dlq_exists: Callable[[str], bool], own_arn: str | None) -> str:
    """RedrivePolicy JSON: deadLetterTargetArn of an existing standard queue, maxReceiveCount 1..1000."""
    if value == "":
        return ""

    def bad(reason: str) -> errors.SqsError:
        return errors.invalid_value("RedrivePolicy", value, reason)

    try:
        policy = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise bad("Invalid JSON.") from None
    if not isinstance(policy, dict) or "deadLetterTargetArn" not in policy or "maxReceiveCount" not in policy:
        raise bad("Redrive policy must contain deadLetterTargetArn and maxReceiveCount.")
    target, count = policy["deadLetterTargetArn"], policy["maxReceiveCount"]
    try:
        count_int = int(count)
    except (TypeError, ValueError):
        raise bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.") from None
    if not 1 <= count_int <= 1000:
        raise bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
    if not isinstance(target, str) or not _ARN.fullmatch(target):
        raise bad("Invalid value for deadLetterTargetArn.")
    if target.endswith(".fifo"):
        raise bad("Dead-letter target must be of the same type (standard) as the source queue.")
    if target != own_arn and not dlq_exists(target):
        raise bad("Dead letter target does not exist.")
    return orjson.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count_int}).decode()


def requested(names: list[str]) -> set[str]:
    """Validate GetQueueAttributes' AttributeNames; "All" expands later."""
    known = set(DEFAULTS) | set(_RANGES) | _FREE_TEXT | _FIFO_ONLY | set(COMPUTED) | {"RedrivePolicy", "All"}
    for name in names:
        if name not in known:
            raise errors.unknown_attribute(name)
    return set(names)
