"""Waiting in async tests: poll a condition against a deadline, never sleep to synchronise."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, overload

T = TypeVar("T")

POLL_S = 0.01
DEFAULT_TIMEOUT_S = 10.0


@overload
async def wait_for(condition: Callable[[], Awaitable[T | None]], timeout_s: float = ...,
                   what: str = ...) -> T: ...


@overload
async def wait_for(condition: Callable[[], T | None], timeout_s: float = ..., what: str = ...) -> T: ...


async def wait_for(condition: Callable[[], Any], timeout_s: float = DEFAULT_TIMEOUT_S, what: str = "") -> Any:
    """Poll `condition()` (plain or async) until it returns something truthy, and return that; fail
    the test with `what` when `timeout_s` passes first. The deadline only bounds a hang: it is never
    what the test asserts."""
    deadline_s = time.monotonic() + timeout_s
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition!r}")
        await asyncio.sleep(POLL_S)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion on a fresh event loop (for sync tests)."""
    return asyncio.run(main)
