"""What one lambdalite process holds: settings, store, execution environments, metrics, wake-ups.

Services and the dispatcher receive the Node instead of globals, so tests and roles (serve, worker) can
assemble exactly the parts they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdalite.runtime.pool import EnvironmentPool
    from lambdalite.settings import Settings
    from lambdalite.store.sqlite import SqliteStore


@dataclass
class Node:
    settings: Settings
    store: SqliteStore
    pool: EnvironmentPool
    # Called after new async work was committed (an accepted event, a delivery): wakes a local dispatcher.
    wake_listeners: list[Callable[[], None]] = field(default_factory=list)
    # Where clients reach this node's HTTP API (for queue URLs); set once the server has bound its port.
    endpoint: str = "http://localhost:4566"
    # This process's dispatcher, when it runs one: accepted events go straight to it (worker.dispatcher).
    dispatcher: Any = None

    def wake(self) -> None:
        for listener in self.wake_listeners:
            listener()

    def arn_prefix(self, region: str, service: str = "lambda") -> str:
        return f"arn:aws:{service}:{region}:{self.settings.account_id}"


