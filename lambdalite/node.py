"""What one lambdalite process holds: settings, store, execution environments, wake-ups, ports.

Services and the loops receive the Node instead of globals, so tests and roles (serve, worker) can
assemble exactly the parts they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lambdalite.wakeups import Wakeups

if TYPE_CHECKING:
    from lambdalite.model.queue import Leased
    from lambdalite.ports import Ports
    from lambdalite.runtime.pool import EnvironmentPool
    from lambdalite.settings import Settings
    from lambdalite.store.protocol import Store


class LocalDispatch(Protocol):
    """This process's dispatcher as the accept path sees it (direct dispatch of accepted events)."""

    lease_ms: int

    def reserve(self) -> bool:
        """Room for one event accepted now? Then it is counted until `adopt` or `unreserve`."""
        ...

    def unreserve(self) -> None: ...

    def adopt(self, leased: Leased) -> None:
        """After the accept committed: run the event that was queued already leased to this process."""
        ...


@dataclass
class Node:
    settings: Settings
    store: Store
    pool: EnvironmentPool
    wakeups: Wakeups = field(default_factory=Wakeups)
    # Where clients reach this node's HTTP API (for queue URLs); set once the server has bound its port.
    endpoint: str = "http://localhost:4566"
    # This process's dispatcher, when it runs one: accepted events go straight to it.
    dispatcher: LocalDispatch | None = None
    # How destinations and rule targets reach the services that receive them (wired by server.py).
    ports: Ports | None = None

    def arn_prefix(self, region: str, service: str = "lambda") -> str:
        return f"arn:aws:{service}:{region}:{self.settings.account_id}"
