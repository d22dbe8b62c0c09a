"""What every target module shares: the failure type, and the ports to the services that receive."""

from __future__ import annotations

from lambdalite.node import Node
from lambdalite.ports import Ports


class DeliveryError(Exception):
    """A delivery that did not happen. `permanent`: retrying cannot help (unsupported target)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def unsupported(service: str, arn: str) -> DeliveryError:
    return DeliveryError(
        f"lambdalite does not serve {service} yet: cannot deliver to {arn}", permanent=True
    )


def ports(node: Node) -> Ports:
    """The services' ports; a process assembled without them cannot deliver (a retryable failure)."""
    if node.ports is None:
        raise DeliveryError("this process was assembled without delivery ports")
    return node.ports
