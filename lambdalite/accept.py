"""Queue an async event durably: the one path every asynchronous invocation takes, whatever its source
(Invoke with InvocationType=Event, InvokeAsync, a Lambda destination, an EventBridge rule's target).

Below services and destinations alike. The caller answers (202) only after `queue_event` returned: the
store's write is durable by then. When this process dispatches and has room, the event is queued already
leased to it and starts once the write is committed (direct dispatch: no lease write, no wake-up).
"""

from __future__ import annotations

from lambdalite import arn, lineage, metrics
from lambdalite.clock import now_ms
from lambdalite.model.event import QueuedEvent
from lambdalite.node import Node
from lambdalite.request_ids import new_request_id
from lambdalite.resolve import Resolved, resolve_function
from lambdalite.wakeups import EVENTS

EMPTY_PAYLOAD = b"{}"


async def queue_event(node: Node, resolved: Resolved, payload: bytes, region: str, invoked_arn: str,
                      trace_id: str | None, *, request_id: str | None = None, run: int = 0) -> str:
    """Queue one event for a resolved function; returns its request id once it is durable.
    A redrive passes the ended event's `request_id` and its next `run` (docs/decisions.md)."""
    event = QueuedEvent(
        request_id=request_id or new_request_id(),
        function=resolved.name,
        qualifier=resolved.qualifier or arn.LATEST,
        accepted_ms=now_ms(),
        trace_id=trace_id,
        hops=lineage.lineage_count(trace_id),
        region=region,
        invoked_arn=invoked_arn,
        run=run,
    )
    dispatcher = node.dispatcher
    if dispatcher is not None and dispatcher.reserve():
        receipt = new_request_id().replace("-", "")[:20]
        try:
            leased = await node.store.accept_event(event, payload, lease_ms=dispatcher.lease_ms, receipt=receipt)
        except BaseException:
            dispatcher.unreserve()
            raise
        assert leased is not None
        dispatcher.adopt(leased)
    else:
        await node.store.accept_event(event, payload)
        node.wakeups.notify(EVENTS)
    metrics.ASYNC_RECEIVED.labels(resolved.name).inc()
    return event.request_id


async def enqueue_event(node: Node, function_arn: str, payload: bytes, region: str,
                        trace_id: str | None = None) -> str:
    """Queue an event for a function named by ARN from inside lambdalite (Lambda destinations, rule
    targets). `trace_id`: the trace header of the call that caused it, whose Lineage count becomes the
    event's hops (contract section 10). Raises Fault (404) when the function or qualifier is missing."""
    ref = arn.parse_function_name(function_arn)
    resolved = await resolve_function(node, ref.name, ref.qualifier, ref.region or region)
    invoked = resolved.qualified_arn if ref.qualifier else resolved.unqualified_arn
    return await queue_event(node, resolved, payload or EMPTY_PAYLOAD, ref.region or region, invoked, trace_id)
