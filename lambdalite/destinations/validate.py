"""Validation of destination ARNs at configuration time (contract section 4).

PutFunctionEventInvokeConfig / UpdateFunctionEventInvokeConfig call `validate_destination_config`;
Create/UpdateFunctionConfiguration may call `validate_dead_letter_target` for DeadLetterConfig.
Only what AWS rejects up front is rejected here: a missing destination function or SQS queue, the function
itself, an unsupported service. Everything else (a FIFO queue, an SNS topic lambdalite does not serve yet)
is accepted and fails at delivery, counted and logged, as on AWS.
"""

from __future__ import annotations

from typing import Any

from lambdalite import arn as arns
from lambdalite.faults import Fault
from lambdalite.node import Node

# Services a destination may name, per side (S3 only receives failures).
_ON_SUCCESS_SERVICES = frozenset({"sqs", "sns", "lambda", "events"})
_ON_FAILURE_SERVICES = _ON_SUCCESS_SERVICES | {"s3"}
_DLQ_SERVICES = frozenset({"sqs", "sns"})


def _invalid(message: str) -> Fault:
    return Fault(400, "InvalidParameterValueException", message)


def _destination_of(config: dict[str, Any], side: str) -> str | None:
    part = config.get(side)
    if not isinstance(part, dict):
        return None
    value = part.get("Destination")
    return value if isinstance(value, str) and value else None


def _render(on_success: str | None, on_failure: str | None) -> str:
    success = f"OnSuccess(destination={on_success})" if on_success else "null"
    failure = f"OnFailure(destination={on_failure})" if on_failure else "null"
    return f"The provided destination config DestinationConfig(onSuccess={success}, onFailure={failure}) is invalid."


async def _check_target(node: Node, function_name: str, destination: str, allowed: frozenset[str]) -> bool:
    """Raise for a missing/self target; return False when the service is not allowed on this side."""
    arn = arns.parse(destination)
    if arn is None or arn.service not in allowed:
        return False
    if arn.service == "lambda":
        target = arns.function_of(arn)
        if target is None or not await node.store.function_exists(target[0]):
            raise _invalid(f"The destination ARN {destination} is invalid.")
        if target[0] == function_name:
            raise _invalid("You can't specify the function as a destination for itself.")
    elif arn.service == "sqs" and await node.store.sqs_queue_by_arn(destination) is None:
        raise _invalid(f"The destination ARN {destination} is invalid.")
    return True


def _check_pattern(destination: str | None, member: str) -> None:
    if destination is not None and not arns.matches_destination_pattern(destination):
        raise Fault(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{destination}' at '{member}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {arns.DESTINATION_PATTERN}",
            type_=None,
        )


async def validate_destination_config(
    node: Node, function_name: str, qualifier: str | None, region: str, destination_config: dict[str, Any]
) -> None:
    """Raise Fault (400) when a DestinationConfig would be refused by AWS; return None when it is fine.

    `function_name` is the configured function (a bare name or an ARN). Missing/self checks come first
    (failure side, then success side), an unsupported service is reported last with both sides rendered.
    """
    if not isinstance(destination_config, dict):
        return
    name = arns.bare_function_name(function_name)
    on_success = _destination_of(destination_config, "OnSuccess")
    on_failure = _destination_of(destination_config, "OnFailure")
    _check_pattern(on_success, "destinationConfig.onSuccess.destination")
    _check_pattern(on_failure, "destinationConfig.onFailure.destination")
    supported = True
    if on_failure is not None:
        supported = await _check_target(node, name, on_failure, _ON_FAILURE_SERVICES) and supported
    if on_success is not None:
        supported = await _check_target(node, name, on_success, _ON_SUCCESS_SERVICES) and supported
    if not supported:
        raise _invalid(_render(on_success, on_failure))


DLQ_INVALID_MESSAGE = "The provided target arn is invalid or does not belong to this account."


def validate_dead_letter_target(node: Node, target_arn: str) -> None:
    """For DeadLetterConfig.TargetArn on Create/UpdateFunctionConfiguration: SQS or SNS only.

    An empty TargetArn removes the DLQ and is fine. A missing SQS queue is accepted (AWS checks the
    function role's permissions, not existence); delivery failures are counted as DeadLetterErrors.
    """
    if not target_arn:
        return
    arn = arns.parse(target_arn)
    if arn is None or arn.service not in _DLQ_SERVICES or not arn.resource:
        raise _invalid(DLQ_INVALID_MESSAGE)
