"""The invocation record, EventBridge entry/envelope and DLQ message builders (contract 5, 6)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from lambdalite.destinations import record
from lambdalite.model.outcome import Condition, Outcome

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
BUS = "arn:aws:events:us-east-1:000000000000:event-bus/default"
ENDED_MS = 1573755365568  # 2019-11-14T18:16:05.568Z


def outcome(**overrides: Any) -> Outcome:
    values: dict[str, Any] = dict(
        request_id="rid-1", function="f", qualifier="$LATEST", function_arn=ARN, region="us-east-1",
        condition=Condition.SUCCESS, approximate_invoke_count=1, request_payload=b'{"k": [1, 2]}',
        ended_ms=ENDED_MS, response_payload=b'{"ok": true}', executed_version="$LATEST", status_code=200,
    )
    values.update(overrides)
    return Outcome(**values)


def failed(**overrides: Any) -> Outcome:
    error = {"errorMessage": "boom", "errorType": "ValueError", "requestId": "rid-1", "stackTrace": ["x"]}
    values: dict[str, Any] = dict(
        condition=Condition.RETRIES_EXHAUSTED, approximate_invoke_count=3,
        response_payload=orjson.dumps(error), function_error="Unhandled", error_type="ValueError",
        error_message="boom",
    )
    values.update(overrides)
    return outcome(**values)


def test_timestamp_format() -> None:
    assert record.iso_ms(ENDED_MS) == "2019-11-14T18:16:05.568Z"
    assert record.iso_ms(1573755365000) == "2019-11-14T18:16:05.000Z"
    assert record.iso_s(ENDED_MS) == "2019-11-14T18:16:05Z"


def test_success_record() -> None:
    rec = record.invocation_record(outcome())
    assert list(rec) == ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
                         "responsePayload"]
    assert rec == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {"requestId": "rid-1", "functionArn": ARN, "condition": "Success",
                           "approximateInvokeCount": 1},
        "requestPayload": {"k": [1, 2]},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"ok": True},
    }


def test_success_with_null_result() -> None:
    rec = record.invocation_record(outcome(response_payload=b"null"))
    assert rec["responsePayload"] is None and "responsePayload" in rec


def test_failure_record() -> None:
    rec = record.invocation_record(failed())
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 3
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert rec["responsePayload"]["errorMessage"] == "boom"


def test_zero_reserved_concurrency_has_no_response() -> None:
    rec = record.invocation_record(outcome(
        condition=Condition.ZERO_RESERVED_CONCURRENCY, approximate_invoke_count=0, response_payload=None,
        status_code=None, executed_version=None))
    assert rec["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert rec["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in rec and "responsePayload" not in rec


def test_non_json_payloads_are_kept_as_text() -> None:
    rec = record.invocation_record(outcome(request_payload=b"", response_payload=b"not json"))
    assert rec["requestPayload"] == {}
    assert rec["responsePayload"] == "not json"


def test_eventbridge_entry_and_envelope() -> None:
    entry = record.eventbridge_entry(failed(), BUS)
    assert entry["Source"] == "lambda"
    assert entry["DetailType"] == "Lambda Function Invocation Result - Failure"
    assert entry["Resources"] == [BUS, ARN]
    assert orjson.loads(entry["Detail"]) == record.invocation_record(failed())
    assert record.eventbridge_entry(outcome(), BUS)["DetailType"] == "Lambda Function Invocation Result - Success"
    env = record.eventbridge_envelope(outcome(), BUS, account="000000000000", event_id="e1", time_ms=ENDED_MS)
    assert env == {
        "version": "0", "id": "e1", "detail-type": "Lambda Function Invocation Result - Success",
        "source": "lambda", "account": "000000000000", "time": "2019-11-14T18:16:05Z", "region": "us-east-1",
        "resources": [BUS, ARN], "detail": record.invocation_record(outcome()),
    }


def test_dead_letter_message() -> None:
    raw = b'{ "spaced":  "as sent" }'
    body, attrs = record.dead_letter_message(failed(request_payload=raw))
    assert body == raw.decode()
    assert attrs == {
        "RequestID": {"DataType": "String", "StringValue": "rid-1"},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "boom"},
    }


def test_dead_letter_message_truncates_to_1kb_on_a_character_boundary() -> None:
    message = "é" * 1000  # 2000 bytes
    _, attrs = record.dead_letter_message(failed(error_message=message))
    value = attrs["ErrorMessage"]["StringValue"]
    assert len(value.encode()) == 1024 and message.startswith(value)


def test_dead_letter_message_without_an_attempt() -> None:
    _, attrs = record.dead_letter_message(outcome(
        condition=Condition.ZERO_RESERVED_CONCURRENCY, approximate_invoke_count=0, response_payload=None,
        status_code=None))
    assert re.fullmatch(r"\d{3}", attrs["ErrorCode"]["StringValue"])
    assert attrs["ErrorMessage"]["StringValue"]


def test_error_message_falls_back_to_the_error_object() -> None:
    _, attrs = record.dead_letter_message(failed(error_message=None))
    assert attrs["ErrorMessage"]["StringValue"] == "boom"


def test_dead_letter_message_of_a_recursion_stop_says_why() -> None:
    _, attrs = record.dead_letter_message(outcome(
        condition=Condition.RECURSIVE_INVOCATION, approximate_invoke_count=0, response_payload=None,
        status_code=None))
    assert "recursive loop" in attrs["ErrorMessage"]["StringValue"]
