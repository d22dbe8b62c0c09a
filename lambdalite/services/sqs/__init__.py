"""The SQS-compatible service (standard queues) and the internal API other parts use to send to queues."""

from lambdalite.services.sqs.internal import deliver_message
from lambdalite.services.sqs.service import SqsService

__all__ = ["SqsService", "deliver_message"]
