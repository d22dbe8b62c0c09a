"""Destinations end to end: records on SQS, a Lambda destination, an EventBridge bus, give-ups.

One server for the module: every test uses its own functions and queues.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_destinations_helpers import (
    BUS_ARN,
    ECHO,
    FAILING,
    FAST_ENV,
    assert_record_shape,
    create_function,
    create_queue,
    function_arn,
    invoke_event,
    metric,
    queue_arn,
    receive_one,
    receive_record,
    wait_metric_rise,
)
from tests.support.server import LambdaliteProcess, module_client, module_server, wait_until

server = module_server("destinations", env=FAST_ENV)
lam = module_client("lambda")
sqs = module_client("sqs")


def test_success_record_on_sqs(lam: Any, sqs: Any) -> None:
    url = create_queue(sqs, "ok-records")
    create_function(lam, "ok-fn", ECHO)
    lam.put_function_event_invoke_config(
        FunctionName="ok-fn", DestinationConfig={"OnSuccess": {"Destination": queue_arn("ok-records")}})
    request_id = invoke_event(lam, "ok-fn", b'{"n": 1, "nested": {"x": [1, 2]}}')

    record = receive_record(sqs, url)
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
                            "responsePayload"]
    assert_record_shape(record, request_id=request_id, function="ok-fn", condition="Success", count=1)
    assert record["requestPayload"] == {"n": 1, "nested": {"x": [1, 2]}}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 1, "nested": {"x": [1, 2]}}, "requestId": request_id}


def test_failure_record_on_sqs(lam: Any, sqs: Any) -> None:
    url = create_queue(sqs, "fail-records")
    create_function(lam, "fail-fn", FAILING)
    lam.put_function_event_invoke_config(
        FunctionName="fail-fn", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn("fail-records")}})
    request_id = invoke_event(lam, "fail-fn", b'{"n": 7}')

    record = receive_record(sqs, url)
    assert_record_shape(record, request_id=request_id, function="fail-fn", condition="RetriesExhausted", count=2)
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    error = record["responsePayload"]
    assert error["errorMessage"] == "boom: 7" and error["errorType"] == "ValueError"
    assert isinstance(error["stackTrace"], list)


def test_zero_reserved_concurrency_record(lam: Any, sqs: Any) -> None:
    url = create_queue(sqs, "zero-records")
    create_function(lam, "zero-fn", ECHO)
    lam.put_function_concurrency(FunctionName="zero-fn", ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName="zero-fn", DestinationConfig={"OnFailure": {"Destination": queue_arn("zero-records")}})
    request_id = invoke_event(lam, "zero-fn", b'{"z": true}')

    record = receive_record(sqs, url)
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload"]
    assert_record_shape(record, request_id=request_id, function="zero-fn", condition="ZeroReservedConcurrency",
                        count=0)
    assert record["requestPayload"] == {"z": True}


def test_lambda_destination_receives_the_record_as_its_event(lam: Any, sqs: Any) -> None:
    # The sink's own success record shows the event it received (its requestPayload).
    url = create_queue(sqs, "sink-records")
    create_function(lam, "sink-fn", ECHO)
    lam.put_function_event_invoke_config(
        FunctionName="sink-fn", DestinationConfig={"OnSuccess": {"Destination": queue_arn("sink-records")}})
    create_function(lam, "source-fn", ECHO)
    lam.put_function_event_invoke_config(
        FunctionName="source-fn", DestinationConfig={"OnSuccess": {"Destination": function_arn("sink-fn", None)}})
    request_id = invoke_event(lam, "source-fn", b'{"hop": 1}')

    sink_record = receive_record(sqs, url)
    assert sink_record["requestContext"]["functionArn"] == function_arn("sink-fn")
    assert sink_record["requestContext"]["requestId"] != request_id
    received = sink_record["requestPayload"]
    assert_record_shape(received, request_id=request_id, function="source-fn", condition="Success", count=1)
    assert received["requestPayload"] == {"hop": 1}
    assert received["responsePayload"] == {"echo": {"hop": 1}, "requestId": request_id}


def test_eventbridge_destination_delivers_the_envelope(server: LambdaliteProcess, lam: Any, sqs: Any) -> None:
    events = server.client("events")
    url = create_queue(sqs, "bus-records")
    events.put_rule(Name="lambda-results", EventPattern=orjson.dumps({"source": ["lambda"]}).decode())
    events.put_targets(Rule="lambda-results", Targets=[{"Id": "q", "Arn": queue_arn("bus-records")}])
    create_function(lam, "bus-fn", FAILING)
    lam.put_function_event_invoke_config(
        FunctionName="bus-fn", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": BUS_ARN}})
    request_id = invoke_event(lam, "bus-fn", b'{"n": 3}')

    envelope = orjson.loads(receive_one(sqs, url)["Body"])
    assert envelope["version"] == "0"
    assert envelope["source"] == "lambda"
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert envelope["account"] == "000000000000" and envelope["region"] == "us-east-1"
    assert envelope["resources"] == [BUS_ARN, function_arn("bus-fn")]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", envelope["time"])
    assert envelope["id"]
    detail = envelope["detail"]
    assert_record_shape(detail, request_id=request_id, function="bus-fn", condition="RetriesExhausted", count=1)
    assert detail["responsePayload"]["errorMessage"] == "boom: 3"


def test_missing_destination_queue_is_retried_then_counted_and_logged(
    server: LambdaliteProcess, lam: Any, sqs: Any
) -> None:
    url = create_queue(sqs, "gone-records")
    create_function(lam, "gone-fn", ECHO)
    lam.put_function_event_invoke_config(
        FunctionName="gone-fn", DestinationConfig={"OnSuccess": {"Destination": queue_arn("gone-records")}})
    sqs.delete_queue(QueueUrl=url)
    before = metric(server, "DestinationDeliveryFailures", "gone-fn")
    request_id = invoke_event(lam, "gone-fn", b'{"lost": "never"}')

    wait_metric_rise(server, "DestinationDeliveryFailures", "gone-fn", before)
    line = wait_until(lambda: next((ln for ln in server.log_text().splitlines()
                                    if "gave up delivering" in ln and request_id in ln), None),
                      timeout_s=10, what="the give-up log line")
    assert "WARNING" in line and "after 3 attempt(s)" in line
    assert '"requestPayload":{"lost":"never"}' in line  # the whole record is in the log


def test_validation_refuses_missing_targets(lam: Any) -> None:
    create_function(lam, "valid-fn", ECHO)
    missing = queue_arn("no-such-queue")
    with pytest.raises(ClientError) as info:
        lam.put_function_event_invoke_config(
            FunctionName="valid-fn", DestinationConfig={"OnSuccess": {"Destination": missing}})
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == f"The destination ARN {missing} is invalid."
    with pytest.raises(ClientError) as info:
        lam.put_function_event_invoke_config(
            FunctionName="valid-fn", DestinationConfig={"OnFailure": {"Destination": function_arn("valid-fn")}})
    assert info.value.response["Error"]["Message"] == "You can't specify the function as a destination for itself."


def test_missing_sns_topic_is_accepted_but_its_delivery_fails_counted(server: LambdaliteProcess, lam: Any) -> None:
    topic = "arn:aws:sns:us-east-1:000000000000:never-created"
    create_function(lam, "sns-fn", FAILING)
    lam.put_function_event_invoke_config(
        FunctionName="sns-fn", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}})
    before = metric(server, "DestinationDeliveryFailures", "sns-fn")
    request_id = invoke_event(lam, "sns-fn", b'{"n": 5}')

    wait_metric_rise(server, "DestinationDeliveryFailures", "sns-fn", before)
    assert any("gave up delivering" in ln and request_id in ln and "Topic does not exist" in ln
               for ln in server.log_text().splitlines())
