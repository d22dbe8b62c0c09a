"""An event invoke config (retries, maximum event age, destinations) of one function qualifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class EventConfig:
    function: str
    qualifier: str
    config: dict[str, Any]  # MaximumRetryAttempts?, MaximumEventAgeInSeconds?, DestinationConfig?
    last_modified_ms: int

    @property
    def max_retry_attempts(self) -> int | None:
        value = self.config.get("MaximumRetryAttempts")
        return int(value) if value is not None else None

    @property
    def max_event_age_s(self) -> int | None:
        value = self.config.get("MaximumEventAgeInSeconds")
        return int(value) if value is not None else None

    def destination(self, which: str) -> str | None:
        """The OnSuccess / OnFailure destination ARN, if set."""
        target = (self.config.get("DestinationConfig") or {}).get(which) or {}
        arn = target.get("Destination")
        return str(arn) if arn else None
