"""Shared helpers for the SQS e2e modules: one server per module, unique queue names."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def error_of(exc: ClientError) -> tuple[str, str, int]:
    """(Code, Message, HTTP status) of a botocore error."""
    err = exc.response["Error"]
    return err["Code"], err["Message"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def attrs(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]
