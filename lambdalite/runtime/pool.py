"""Warm pool of execution environments (placeholder: filled in by its owner)."""

from __future__ import annotations

from lambdalite.model.run import InvokeRequest, InvokeResult, RunSpec, Status
from lambdalite.settings import Settings


class EnvironmentPool:
    """Runs one invocation at a time per environment; reuses warm ones; stops idle ones."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def invoke(self, spec: RunSpec, request: InvokeRequest) -> InvokeResult:
        return InvokeResult(Status.SYSTEM_ERROR, b'{"errorMessage":"not implemented"}', "Runtime.Unavailable")

    async def reap_idle(self) -> None:
        """Stop environments idle longer than settings.idle_env_timeout_s (called periodically)."""

    async def close(self) -> None:
        """Stop every environment."""
