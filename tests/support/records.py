"""Builders of the records the store keeps, shaped as lambdalite's own code builds them."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path
from typing import Any

from lambdalite.clock import now_ms
from lambdalite.model.event import QueuedEvent
from lambdalite.model.outcome import Condition, Outcome
from lambdalite.model.queue import Claim
from lambdalite.services.lambda_api.config import new_config
from lambdalite.settings import ACCOUNT_ID
from lambdalite.store.code import StoredCode
from lambdalite.store.protocol import Store

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/test"


def function_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def queue_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"


def code_sha(code: bytes) -> str:
    """The hex sha the store keeps per configuration (which code packages are still in use)."""
    return hashlib.sha256(code).hexdigest()


def function_config(name: str, *, code: bytes = b"code", region: str = REGION, **params: Any) -> dict[str, Any]:
    """$LATEST's FunctionConfiguration as CreateFunction builds it (services/lambda_api/config.new_config)."""
    digest = hashlib.sha256(code).digest()
    stored = StoredCode(digest.hex(), base64.b64encode(digest).decode(), len(code), Path("/nonexistent"))
    data = {"Runtime": "python3.12", "Role": ROLE, "Handler": "handler.main", "Architectures": ["x86_64"], **params}
    return new_config(data, name, function_arn(name, region), stored)


async def create_function(store: Store, name: str, *, code: bytes = b"code", reserved: int | None = None,
                          publish: bool = False, **params: Any) -> dict[str, Any]:
    """Create a function (optionally with reserved concurrency); returns the answer config."""
    answer = await store.create_function(function_config(name, code=code, **params), code_sha(code), publish)
    if reserved is not None:
        await store.set_reserved_concurrency(name, reserved)
    return answer


def slot_of(claim: Claim) -> int | None:
    """The slot a lease claimed, as an attempt hands it to `AttemptEnd` (a refusal holds none)."""
    return claim if isinstance(claim, int) else None


def alias_config(function: str, alias: str, version: str) -> dict[str, Any]:
    return {"AliasArn": f"{function_arn(function)}:{alias}", "Name": alias, "FunctionVersion": version,
            "Description": "", "RevisionId": str(uuid.uuid4())}


def queued_event(function: str, *, request_id: str | None = None, accepted_ms: int | None = None,
                 qualifier: str = "$LATEST", **fields: Any) -> QueuedEvent:
    """An async event as the accept path makes it."""
    return QueuedEvent(
        request_id=request_id or str(uuid.uuid4()),
        function=function,
        qualifier=qualifier,
        accepted_ms=now_ms() if accepted_ms is None else accepted_ms,
        region=REGION,
        invoked_arn=function_arn(function),
        **fields,
    )


def outcome(event: QueuedEvent, condition: Condition = Condition.SUCCESS, *, payload: bytes = b'{"a": 1}',
            ended_ms: int | None = None) -> Outcome:
    """How an attempt ends an event (worker/attempt.py)."""
    ran = condition in (Condition.SUCCESS, Condition.RETRIES_EXHAUSTED)
    return Outcome(
        request_id=event.request_id, function=event.function, qualifier=event.qualifier,
        function_arn=f"{function_arn(event.function)}:{event.qualifier}", region=event.region,
        condition=condition, approximate_invoke_count=event.attempts + 1, request_payload=payload,
        ended_ms=now_ms() if ended_ms is None else ended_ms,
        response_payload=b'{"ok": true}' if ran else None,
        function_error=None if condition is Condition.SUCCESS or not ran else "Unhandled",
        executed_version="$LATEST" if ran else None, status_code=200 if ran else None,
    )
