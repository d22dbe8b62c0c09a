"""One synchronous run of a function in a concurrency slot already taken: the sync Invoke API and event
source mapping batches run, count and release it the same way (the async dispatcher records attempts
its own way, in worker/attempt.py)."""

from __future__ import annotations

from lambdalite import metrics
from lambdalite.model.run import InvokeRequest, InvokeResult, Status
from lambdalite.node import Node
from lambdalite.resolve import Resolved


async def run_in_slot(node: Node, resolved: Resolved, request: InvokeRequest, slot: int, *,
                      prefer_warm: bool = False) -> InvokeResult:
    """Run `request` in an environment, release `slot` whatever happens, count the invocation."""
    labels = (resolved.name,)
    concurrent = metrics.CONCURRENT.labels(*labels)
    concurrent.inc()
    try:
        result = await node.pool.invoke(resolved.spec, request, prefer_warm=prefer_warm)
    finally:
        concurrent.dec()
        await node.store.release_slot(slot)
    if result.status is not Status.SYSTEM_ERROR:
        metrics.INVOCATIONS.labels(*labels).inc()
        metrics.DURATION.labels(*labels).observe(result.duration_ms)
        if result.status is Status.FUNCTION_ERROR:
            metrics.ERRORS.labels(*labels).inc()
    return result
