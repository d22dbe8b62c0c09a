"""SQS errors as the JSON 1.0 protocol sends them, with the query-protocol code clients key on.

SQS moved from the query protocol to JSON with `awsQueryCompatible`: botocore takes the error Code from
the `x-amzn-query-error: CODE;Sender` header and the exception class from the `__type` shape name, so
each error carries both (shape `QueueDoesNotExist`, code `AWS.SimpleQueueService.NonExistentQueue`).
"""

from __future__ import annotations

from lambdalite.services.http import AwsError

# shape name -> code of the query protocol (what `error.response["Error"]["Code"]` shows)
QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidParameterValueException": "InvalidParameterValue",
    "MissingRequiredParameterException": "MissingParameter",
}


class SqsError(AwsError):
    """An SQS error: `code` is the modeled shape name, `query_code` the query-protocol code."""

    def __init__(self, shape: str, message: str, *, status: int = 400, fault: str = "Sender") -> None:
        self.query_code = QUERY_CODES.get(shape, shape)
        self.fault = fault
        super().__init__(status, shape, message, headers=[("x-amzn-query-error", f"{self.query_code};{fault}")])


def no_queue() -> SqsError:
    return SqsError("QueueDoesNotExist", "The specified queue does not exist.")


def invalid_parameter(message: str) -> SqsError:
    return SqsError("InvalidParameterValueException", message)


def invalid_value(name: str, value: object, reason: str) -> SqsError:
    return invalid_parameter(f"Value {value} for parameter {name} is invalid. Reason: {reason}")


def missing(name: str) -> SqsError:
    return SqsError("MissingRequiredParameterException", f"The request must contain the parameter {name}.")


def invalid_attribute_value(name: str) -> SqsError:
    return SqsError("InvalidAttributeValue", f"Invalid value for the parameter {name}.")


def unknown_attribute(name: str) -> SqsError:
    return SqsError("InvalidAttributeName", f"Unknown Attribute {name}.")


def invalid_receipt(handle: str) -> SqsError:
    return SqsError("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')


def fifo_unsupported() -> SqsError:
    return SqsError("UnsupportedOperation", "FIFO queues are not supported by lambdalite; use a standard queue.")
