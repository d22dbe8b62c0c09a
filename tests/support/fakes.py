"""Fakes for the world outside the code under test: the execution environments and the services that
receive deliveries. Never fakes of lambdalite's own dispatcher, attempt, job loop or store."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lambdalite.clock import now_ms
from lambdalite.faults import Fault
from lambdalite.model.run import InvokeRequest, InvokeResult, RunSpec, Status

Answer = Callable[[RunSpec, InvokeRequest], InvokeResult | Awaitable[InvokeResult]]


def ok(payload: bytes = b'{"ok": true}') -> InvokeResult:
    return InvokeResult(Status.OK, payload, duration_ms=1.0)


def function_error(message: str = "boom") -> InvokeResult:
    body = b'{"errorType": "ValueError", "errorMessage": "%s"}' % message.encode()
    return InvokeResult(Status.FUNCTION_ERROR, body, "ValueError", duration_ms=1.0)


def system_error() -> InvokeResult:
    return InvokeResult(Status.SYSTEM_ERROR, b'{"errorType": "Runtime.ExitError"}', "Runtime.ExitError")


@dataclass
class Call:
    spec: RunSpec
    request: InvokeRequest
    prefer_warm: bool
    started_ms: int


class FakePool:
    """Stands in for `runtime.pool.EnvironmentPool`: the sandboxed processes that run a function's code,
    outside the dispatcher and the attempt under test. Each invocation is recorded and answered by
    `answer(spec, request)` (plain or async); the default answers every call with success.

    `hold()` makes invocations wait until `release()`: an event that is running, for as long as the
    test needs (a lease to lose, a shutdown to hand back).
    """

    def __init__(self, answer: Answer | None = None):
        self.answer: Answer = answer or (lambda spec, request: ok())
        self.calls: list[Call] = []
        self.running = 0
        self._gate: asyncio.Event | None = None

    def answers(self, *results: InvokeResult) -> None:
        """Answer the next calls with `results` in turn, then keep answering with the last one."""
        queue = list(results)

        def next_result(spec: RunSpec, request: InvokeRequest) -> InvokeResult:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.answer = next_result

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def invoke(self, spec: RunSpec, request: InvokeRequest, *, prefer_warm: bool = False) -> InvokeResult:
        self.calls.append(Call(spec, request, prefer_warm, now_ms()))
        self.running += 1
        try:
            if self._gate is not None:
                await self._gate.wait()
            result = self.answer(spec, request)
            if inspect.isawaitable(result):
                result = await result
            return result
        finally:
            self.running -= 1

    async def reap_idle(self) -> None:
        return None

    async def retire(self, function_name: str) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass
class SentMessage:
    queue_arn: str
    body: str
    attributes: dict[str, dict[str, Any]] | None


@dataclass
class PutEvents:
    region: str
    entries: list[dict[str, Any]]
    trace_id: str | None


@dataclass
class FakePorts:
    """Stands in for the services behind `lambdalite.ports.Ports` (lambdalite's SQS and EventBridge, the
    receivers of deliveries), outside the job loop under test. Records what arrived; `refuse_sqs[arn]`
    refuses that many sends to a queue first (-1: every send), as a full or missing queue would."""

    sent: list[SentMessage] = field(default_factory=list)
    put: list[PutEvents] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    refuse_sqs: dict[str, int] = field(default_factory=dict)
    objects: list[tuple[str, str, bytes]] = field(default_factory=list)  # S3 puts: (bucket, key, body)

    async def send_sqs(self, queue_arn: str, body: str, attributes: dict[str, dict[str, Any]] | None) -> str:
        left = self.refuse_sqs.get(queue_arn, 0)
        if left:
            self.refuse_sqs[queue_arn] = left - 1 if left > 0 else left
            self.refused.append(queue_arn)
            raise Fault(400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
        self.sent.append(SentMessage(queue_arn, body, attributes))
        return str(uuid.uuid4())

    async def put_events(self, region: str, entries: list[dict[str, Any]],
                         trace_id: str | None) -> list[dict[str, Any]]:
        self.put.append(PutEvents(region, entries, trace_id))
        return [{"EventId": str(uuid.uuid4())} for _ in entries]

    async def put_s3_object(self, bucket: str, key: str, body: bytes, trace_id: str | None) -> None:
        self.objects.append((bucket, key, body))

    def sqs_records(self, messages: list[Any], queue_arn: str, region: str) -> list[dict[str, Any]]:
        return [{"messageId": m.id, "body": m.body.decode(), "eventSourceARN": queue_arn} for m in messages]
