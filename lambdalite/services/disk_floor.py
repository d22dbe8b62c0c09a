"""Below the free-space floor, refuse new accepts with each service's own retryable throttling error.

What is refused: the operations whose 2xx promises durable new work (Invoke with InvocationType=Event,
InvokeAsync, SQS SendMessage / SendMessageBatch, EventBridge PutEvents). Everything else goes on, reads,
deletes, receives and the dispatchers' own writes included, so the backlog drains and frees space.
Internal moves (destinations, rule targets) are not refused either: they run as retried jobs.

The errors are those every AWS SDK retries with backoff: Lambda 429 `TooManyRequestsException` (with
Retry-After), SQS 403 `RequestThrottled` (SQS's throttle, retried by botocore's legacy and standard
modes), EventBridge 400 `ThrottlingException`. Each message names disk space, so an operator reading a
client's error knows what to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdalite.disk import FreeSpace
from lambdalite.services import function_access
from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.sqs import query as sqs_query
from lambdalite.services.sqs.errors import SqsError

if TYPE_CHECKING:
    from lambdalite.services.app import Service

ACCEPTS = {
    "lambda": frozenset({"Invoke", "InvokeAsync"}),
    "sqs": frozenset({"SendMessage", "SendMessageBatch"}),
    "events": frozenset({"PutEvents"}),
}
RETRY_AFTER_S = 1
WRITE_FACTOR = 2


def is_accept(request: Request, service: str) -> bool:
    name = function_access.operation(request, service)
    if name not in ACCEPTS.get(service, ()):
        return False
    return name != "Invoke" or request.headers.get("x-amz-invocation-type", "").lower() == "event"


def error_for(service: str, space: FreeSpace) -> AwsError:
    message = (f"lambdalite is low on disk space ({space.describe()}): new events are refused until the "
               "backlog drains or space is added. Retry later.")
    if service == "sqs":
        return SqsError("RequestThrottled", message, status=403)
    if service == "events":
        return AwsError(400, "ThrottlingException", message, type_=None)
    return AwsError(429, "TooManyRequestsException", message, headers=[("Retry-After", str(RETRY_AFTER_S))])


class DiskFloor:
    """The App's admission check (`refuse`): one cached `statvfs` per second while there is room."""

    def __init__(self, space: FreeSpace):
        self.space = space

    def refuse(self, request: Request, service: Service) -> Response | None:
        if self.space.floor_bytes <= 0:
            return None
        if not self.space.low():
            if request.body:  # an accept's bytes reach the disk twice: the WAL, then the database
                self.space.charge(WRITE_FACTOR * len(request.body))
            return None
        if not is_accept(request, service.name):
            return None
        error = error_for(service.name, self.space)
        if service.name == "sqs" and not request.headers.get("x-amz-target"):
            return sqs_query.error_response(error, new_request_id())
        return service.error_response(error, new_request_id())
