"""How an async event ended: what the destinations and dead-letter queue are told."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

import orjson


class Condition(StrEnum):
    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"
    RECURSIVE_INVOCATION = "RecursiveInvocationException"  # stopped as a recursive loop (docs/decisions.md)


@dataclass(slots=True)
class Outcome:
    request_id: str
    function: str
    qualifier: str  # as invoked
    function_arn: str  # qualified: ...:function:f:$LATEST (or :alias / :version)
    region: str
    condition: Condition
    approximate_invoke_count: int
    request_payload: bytes  # the original event's bytes
    ended_ms: int
    response_payload: bytes | None = None  # the last attempt's result or error object
    function_error: str | None = None  # "Unhandled" when the last attempt failed
    executed_version: str | None = None
    status_code: int | None = None  # 200 when an attempt ran
    error_type: str | None = None
    error_message: str | None = None
    # The trace header (with its Lineage count) the function ran under: a Lambda destination's event
    # continues that chain, so a loop through destinations is stopped too (contract section 10).
    trace_id: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.condition is Condition.SUCCESS

    def to_json(self) -> bytes:
        # Field by field: dataclasses.asdict deep-copies, and this runs once per ended event.
        data: dict[str, Any] = {f: getattr(self, f) for f in _FIELDS}
        data["condition"] = self.condition.value
        data["request_payload"] = self.request_payload.decode("utf-8", "replace")
        if self.response_payload is not None:
            data["response_payload"] = self.response_payload.decode("utf-8", "replace")
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes) -> Outcome:
        data = orjson.loads(raw)
        data["condition"] = Condition(data["condition"])
        data["request_payload"] = data["request_payload"].encode()
        if data.get("response_payload") is not None:
            data["response_payload"] = data["response_payload"].encode()
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(Outcome))
