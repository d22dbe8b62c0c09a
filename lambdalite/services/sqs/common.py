"""What every SQS operation needs: the caller's context, parameter readers, queue lookup by URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from lambdalite.model.sqs import QueueRecord
from lambdalite.node import Node
from lambdalite.services.sqs import errors

KIND = "sqs"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
Params = dict[str, Any]


@dataclass(slots=True)
class Ctx:
    """One request's caller: where it came from (for queue URLs), its region and identity."""

    node: Node
    region: str
    host: str
    sender_id: str

    @property
    def account(self) -> str:
        return self.node.settings.account_id

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def url(self, name: str) -> str:
        return f"http://{self.host}/{self.account}/{name}"


def string(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise errors.missing(name)
        return None
    if not isinstance(value, str):
        raise errors.invalid_parameter(f"Value {value} for parameter {name} is invalid.")
    return value


def integer(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise errors.invalid_parameter(f"Value {value} for parameter {name} is invalid.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise errors.invalid_parameter(f"Value {value} for parameter {name} is invalid. Reason: must be an integer.")


def in_range(params: Params, name: str, low: int, high: int, reason: str | None = None) -> int | None:
    value = integer(params, name)
    if value is not None and not low <= value <= high:
        raise errors.invalid_value(name, value, reason or f"Must be >= {low} and <= {high}, if provided.")
    return value


def string_list(params: Params, name: str) -> list[str]:
    value = params.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.invalid_parameter(f"Value {value} for parameter {name} is invalid.")
    return value


def string_map(params: Params, name: str) -> dict[str, Any]:
    """A map member (Attributes, tags): absent is {}; anything but a JSON object is refused."""
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.invalid_parameter(
            f"Value {value} for parameter {name} is invalid. Reason: must be a map."
        )
    return value


def check_queue_name(name: str) -> None:
    if name.endswith(".fifo"):
        raise errors.fifo_unsupported()
    if not _NAME.fullmatch(name):
        raise errors.invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def name_from_url(url: str) -> str:
    """The queue name of any of our URL forms (any host): the path's last segment."""
    path = urlparse(url).path if "://" in url else url
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if not name or not _NAME.fullmatch(name.removesuffix(".fifo")):
        raise errors.SqsError("InvalidAddress", f"The address {url} is not valid for this endpoint.")
    return name


async def queue_of(ctx: Ctx, params: Params) -> QueueRecord:
    """The queue a request's QueueUrl names; QueueDoesNotExist otherwise."""
    url = string(params, "QueueUrl", required=True)
    assert url is not None
    name = name_from_url(url)
    record = await ctx.node.store.sqs_queue(ctx.region, name)
    if record is None:
        raise errors.no_queue()
    return record
