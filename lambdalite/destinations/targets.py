"""What every target module shares: the failure type and calling services that may or may not be async."""

from __future__ import annotations

import inspect
from typing import Any


class DeliveryError(Exception):
    """A delivery that did not happen. `permanent`: retrying cannot help (unsupported target)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


async def call(fn: Any, *args: Any) -> Any:
    """Call a service entry point; await it when it is a coroutine function."""
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


def unsupported(service: str, arn: str) -> DeliveryError:
    return DeliveryError(
        f"lambdalite does not serve {service} yet: cannot deliver to {arn}", permanent=True
    )
