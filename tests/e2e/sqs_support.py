"""Shared helpers for the SQS e2e modules: one server per module, unique queue names."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def error_of(exc: ClientError) -> tuple[str, str, int]:
    """(Code, Message, HTTP status) of a botocore error."""
    err = exc.response["Error"]
    return err["Code"], err["Message"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def attrs(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"])


def long_poll_with_late_send(receiver: Any, sender: Any, url: str, body: str) -> tuple[dict[str, Any], float]:
    """Long-poll `url` with `receiver` while `sender` sends `body` a second later: (response, seconds waited)."""

    def send_later() -> None:
        time.sleep(1.0)  # the arrival must happen while the receive waits; not a synchronisation
        sender.send_message(QueueUrl=url, MessageBody=body)

    thread = threading.Thread(target=send_later)
    started = time.monotonic()
    thread.start()
    got = receiver.receive_message(QueueUrl=url, WaitTimeSeconds=20)
    elapsed_s = time.monotonic() - started
    thread.join()
    return got, elapsed_s
