"""Dead-letter queues end to end: the original body, RequestID/ErrorCode/ErrorMessage, DLQ + OnFailure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_destinations_helpers import (
    FAILING,
    FAST_ENV,
    assert_record_shape,
    create_function,
    create_queue,
    invoke_event,
    metric,
    queue_arn,
    receive_one,
    receive_record,
    wait_metric_rise,
)
from tests.support.server import LambdaliteProcess, module_client, module_server

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

server = module_server("dead-letter", env=FAST_ENV)
lam = module_client("lambda")
sqs = module_client("sqs")


def test_dead_letter_message_and_on_failure_both_fire(lam: Any, sqs: Any) -> None:
    dlq_url = create_queue(sqs, "dlq")
    failures_url = create_queue(sqs, "failures")
    create_function(lam, "dlq-fn", FAILING, DeadLetterConfig={"TargetArn": queue_arn("dlq")})
    lam.put_function_event_invoke_config(
        FunctionName="dlq-fn", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn("failures")}})
    raw = b'{ "n" :  42,  "spacing": "kept as sent" }'
    request_id = invoke_event(lam, "dlq-fn", raw)

    message = receive_one(sqs, dlq_url)
    assert message["Body"] == raw.decode()
    assert message["MessageAttributes"] == {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "boom: 42"},
    }
    record = receive_record(sqs, failures_url)
    assert_record_shape(record, request_id=request_id, function="dlq-fn", condition="RetriesExhausted", count=1)


def test_error_message_is_cut_to_1kb(lam: Any, sqs: Any) -> None:
    url = create_queue(sqs, "long-dlq")
    source = 'def handler(event, context):\n    raise RuntimeError("x" * 5000)\n'
    create_function(lam, "long-fn", source, DeadLetterConfig={"TargetArn": queue_arn("long-dlq")})
    lam.put_function_event_invoke_config(FunctionName="long-fn", MaximumRetryAttempts=0)
    invoke_event(lam, "long-fn", b"{}")

    message = receive_one(sqs, url)
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "x" * 1024


def test_missing_dead_letter_queue_counts_dead_letter_errors(
    server: LambdaliteProcess, lam: Any, sqs: Any
) -> None:
    create_function(lam, "nodlq-fn", FAILING, DeadLetterConfig={"TargetArn": queue_arn("never-created")})
    lam.put_function_event_invoke_config(FunctionName="nodlq-fn", MaximumRetryAttempts=0)
    before = metric(server, "DeadLetterErrors", "nodlq-fn")
    request_id = invoke_event(lam, "nodlq-fn", b'{"n": 1}')

    wait_metric_rise(server, "DeadLetterErrors", "nodlq-fn", before)
    assert any("gave up delivering" in ln and request_id in ln and '"RequestID"' in ln
               for ln in server.log_text().splitlines())
