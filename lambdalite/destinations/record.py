"""Pure builders: the invocation record, the EventBridge event, the dead-letter message (contract 5, 6).

Everything here is a function of the Outcome (and the target), so a redelivery after a crash builds
the same record (same timestamp: the moment the event ended).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from lambdalite.model.outcome import Condition, Outcome

RECORD_VERSION = "1.0"
SUCCESS_DETAIL_TYPE = "Lambda Function Invocation Result - Success"
FAILURE_DETAIL_TYPE = "Lambda Function Invocation Result - Failure"
EVENT_SOURCE = "lambda"
DLQ_MESSAGE_LIMIT_BYTES = 1024
# No attempt ran (zero reserved concurrency, or too old before any attempt): the code a throttle gets.
NOT_INVOKED_ERROR_CODE = 429
_NOT_INVOKED_MESSAGES = {
    Condition.ZERO_RESERVED_CONCURRENCY: "The function's reserved concurrency is 0: the event was not invoked.",
    Condition.EVENT_AGE_EXCEEDED: "Event age exceeded the function's MaximumEventAgeInSeconds.",
    Condition.RECURSIVE_INVOCATION: "Lambda has detected your function being invoked in a recursive loop with other "
    "AWS resources and stopped your function's invocation.",
    Condition.RETRIES_EXHAUSTED: "Retries exhausted.",
}


def iso_ms(epoch_ms: int) -> str:
    """`2019-11-14T18:16:05.568Z`: ISO-8601 UTC with milliseconds, as AWS writes record timestamps."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def iso_s(epoch_ms: int) -> str:
    """`2019-11-14T18:16:05Z`: EventBridge's `time` (second precision)."""
    return datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Levels a record's payload sits below the outermost JSON written around it (record, EventBridge
# envelope, event-target job, PutEvents' own check): orjson writes at most 255 levels in all.
_ENVELOPE_LEVELS = 8


def _parsed(payload: bytes | None, *, empty: Any) -> Any:
    """A payload as JSON when it is JSON; its text otherwise (never fails: a record must go out).

    JSON nested too deep to be written back inside the record is carried as text too.
    """
    if payload is None or not payload.strip():
        return empty
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", "replace")
    if payload.count(b"[") + payload.count(b"{") >= 200 and not _writable(value):
        return payload.decode("utf-8", "replace")
    return value


def _writable(value: Any) -> bool:
    wrapped = value
    for _ in range(_ENVELOPE_LEVELS):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        return False
    return True


def invoked(outcome: Outcome) -> bool:
    """Whether an attempt produced a response (ZeroReservedConcurrency and never-run events did not)."""
    return outcome.status_code is not None


def invocation_record(outcome: Outcome) -> dict[str, Any]:
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "timestamp": iso_ms(outcome.ended_ms),
        "requestContext": {
            "requestId": outcome.request_id,
            "functionArn": outcome.function_arn,
            "condition": outcome.condition.value,
            "approximateInvokeCount": outcome.approximate_invoke_count,
        },
        "requestPayload": _parsed(outcome.request_payload, empty={}),
    }
    if invoked(outcome) and outcome.condition is not Condition.ZERO_RESERVED_CONCURRENCY:
        response: dict[str, Any] = {
            "statusCode": outcome.status_code,
            "executedVersion": outcome.executed_version or "$LATEST",
        }
        if not outcome.succeeded and outcome.function_error:
            response["functionError"] = outcome.function_error
        record["responseContext"] = response
        record["responsePayload"] = _parsed(outcome.response_payload, empty=None)
    return record


def record_bytes(outcome: Outcome) -> bytes:
    return orjson.dumps(invocation_record(outcome))


def detail_type(outcome: Outcome) -> str:
    return SUCCESS_DETAIL_TYPE if outcome.succeeded else FAILURE_DETAIL_TYPE


def eventbridge_entry(outcome: Outcome, bus_arn: str) -> dict[str, Any]:
    """The PutEvents entry Lambda sends to a destination bus (EventBridge adds id, time, account...)."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": detail_type(outcome),
        "Detail": record_bytes(outcome).decode(),
        "Resources": [bus_arn, outcome.function_arn],
        "EventBusName": bus_arn,
    }


def eventbridge_envelope(outcome: Outcome, bus_arn: str, *, account: str, event_id: str, time_ms: int) -> dict[str, Any]:
    """The event as a rule's target receives it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type(outcome),
        "source": EVENT_SOURCE,
        "account": account,
        "time": iso_s(time_ms),
        "region": outcome.region,
        "resources": [bus_arn, outcome.function_arn],
        "detail": invocation_record(outcome),
    }


def truncate_utf8(text: str, limit_bytes: int) -> str:
    """The longest prefix of `text` that fits in `limit_bytes` of UTF-8 (never splits a character)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit_bytes:
        return text
    return raw[:limit_bytes].decode("utf-8", "ignore")


def error_message(outcome: Outcome) -> str:
    """The failure's message: the function's errorMessage, else what ended the event."""
    if outcome.error_message:
        return outcome.error_message
    payload = _parsed(outcome.response_payload, empty=None)
    if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
        return str(payload["errorMessage"])
    return _NOT_INVOKED_MESSAGES.get(outcome.condition, outcome.condition.value)


def dead_letter_message(outcome: Outcome) -> tuple[str, dict[str, dict[str, str]]]:
    """(body, SQS message attributes): the original event unchanged, RequestID, ErrorCode, ErrorMessage."""
    code = outcome.status_code if outcome.status_code is not None else NOT_INVOKED_ERROR_CODE
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": outcome.request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(code)},
        "ErrorMessage": {
            "DataType": "String",
            "StringValue": truncate_utf8(error_message(outcome), DLQ_MESSAGE_LIMIT_BYTES),
        },
    }
    return outcome.request_payload.decode("utf-8", "replace"), attributes
