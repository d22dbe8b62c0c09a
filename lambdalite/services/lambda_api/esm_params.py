"""Create/UpdateEventSourceMapping parameters for SQS: parsed and checked as AWS does (event-sources §4).

Range checks answer botocore's ValidationException wording; the rules AWS applies behind the model
(batching window, FIFO, filters, parameters of other source kinds) answer InvalidParameterValueException.
"""

from __future__ import annotations

from typing import Any

from lambdalite import arn, patterns
from lambdalite.model.esm import REPORT_BATCH_ITEM_FAILURES
from lambdalite.services.http import AwsError, validation_error
from lambdalite.services.lambda_api.common import get_bool, get_int, get_obj, wrong_type

MAX_BATCH, MAX_FIFO_BATCH, UNBATCHED_MAX = 10_000, 10, 10
MAX_WINDOW_S = 300
MIN_CONCURRENCY, MAX_CONCURRENCY = 2, 1000
MAX_FILTERS = 5
# Members of the other source kinds (streams, Kafka, MQ, DocumentDB): refused for an SQS queue.
OTHER_KINDS = ("StartingPosition", "StartingPositionTimestamp", "ParallelizationFactor", "BisectBatchOnFunctionError",
               "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "Topics", "Queues",
               "SourceAccessConfigurations", "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig",
               "SelfManagedKafkaEventSourceConfig", "DocumentDBEventSourceConfig")
INVALID_FILTER = "Invalid filter pattern definition."
UNRECOGNIZED = "Unrecognized event source."


def invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidParameterValueException", message)


def _ranged(body: dict[str, Any], key: str, member: str, low: int, high: int) -> int | None:
    value = get_int(body, key)
    if value is None:
        return None
    if value < low:
        raise validation_error(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise validation_error(value, member, f"Member must have value less than or equal to {high}")
    return value


def settings_of(body: dict[str, Any]) -> dict[str, Any]:
    """The SQS mapping settings a request body gives (only those given), each range-checked."""
    out: dict[str, Any] = {}
    batch = _ranged(body, "BatchSize", "batchSize", 1, MAX_BATCH)
    if batch is not None:
        out["batch_size"] = batch
    window = _ranged(body, "MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, MAX_WINDOW_S)
    if window is not None:
        out["window_s"] = window
    if "Enabled" in body and body["Enabled"] is not None:
        out["enabled"] = get_bool(body, "Enabled")
    if "FunctionResponseTypes" in body and body["FunctionResponseTypes"] is not None:
        out["response_types"] = _response_types(body["FunctionResponseTypes"])
    if "ScalingConfig" in body and body["ScalingConfig"] is not None:
        scaling = get_obj(body, "ScalingConfig") or {}
        out["max_concurrency"] = _ranged(scaling, "MaximumConcurrency", "scalingConfig.maximumConcurrency",
                                         MIN_CONCURRENCY, MAX_CONCURRENCY)
    if "FilterCriteria" in body and body["FilterCriteria"] is not None:
        out["filters"] = _filters(get_obj(body, "FilterCriteria") or {})
    _refuse_other_kinds(body)
    return out


def _response_types(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise wrong_type("FunctionResponseTypes", "a list of strings")
    if len(raw) > 1 or any(v != REPORT_BATCH_ITEM_FAILURES for v in raw):
        raise validation_error(f"[{', '.join(raw)}]", "functionResponseTypes",
                               "Member must satisfy constraint: [Member must satisfy enum value set: "
                               f"[{REPORT_BATCH_ITEM_FAILURES}], Member must have length less than or equal to 1]")
    return tuple(raw)


def _filters(criteria: dict[str, Any]) -> tuple[str, ...]:
    """FilterCriteria.Filters' patterns ({} or no Filters: none); each must be an EventBridge pattern."""
    raw = criteria.get("Filters") or []
    if not isinstance(raw, list) or len(raw) > MAX_FILTERS:
        raise invalid(INVALID_FILTER)
    out: list[str] = []
    for item in raw:
        pattern = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(pattern, str):
            raise invalid(INVALID_FILTER)
        try:
            patterns.compile_pattern(pattern)
        except patterns.InvalidPatternError:
            raise invalid(INVALID_FILTER) from None
        out.append(pattern)
    return tuple(out)


def _refuse_other_kinds(body: dict[str, Any]) -> None:
    destination = body.get("DestinationConfig")
    if destination is not None and destination != {}:
        raise invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
    for key in OTHER_KINDS:
        if body.get(key) is not None:
            raise invalid(f"Unsupported {key} parameter for given event source mapping type.")


def queue_arn(raw: Any) -> arn.Arn:
    """EventSourceArn: lambdalite maps SQS queues only."""
    if raw is not None and not isinstance(raw, str):
        raise wrong_type("EventSourceArn", "a string")
    parsed = arn.parse(raw) if raw else None
    if parsed is None or parsed.service != "sqs" or not parsed.resource:
        raise invalid(UNRECOGNIZED)
    return parsed


def check_batching(queue_name: str, batch_size: int, window_s: int) -> None:
    """The rules between BatchSize, the batching window and the queue's kind."""
    if queue_name.endswith(".fifo"):
        if window_s > 0:
            raise invalid("Batching window is not supported for FIFO queues")
        if batch_size > MAX_FIFO_BATCH:
            raise invalid("Maximum batch size must be between 1 and 10 inclusive")
    elif batch_size > UNBATCHED_MAX and window_s == 0:
        raise invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")


def check_timeouts(visibility_s: int, function_timeout_s: int) -> None:
    if visibility_s < function_timeout_s:
        raise invalid(f"Queue visibility timeout: {visibility_s} seconds is less than Function timeout: "
                      f"{function_timeout_s} seconds")


NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist.")
