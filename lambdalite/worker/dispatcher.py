"""Async event dispatcher (placeholder: filled in by its owner)."""

from __future__ import annotations

import asyncio

from lambdalite.node import Node


class Dispatcher:
    def __init__(self, node: Node):
        self.node = node
        self._wake = asyncio.Event()
        node.wake_listeners.append(self._wake.set)

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
