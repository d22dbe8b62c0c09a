"""CloudWatch Logs groups lambdalite knows about beyond function logs' own (explicit ones, retention)."""

from __future__ import annotations

from dataclasses import dataclass

# PutRetentionPolicy's retentionInDays enum (botocore logs model).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)


@dataclass(frozen=True, slots=True)
class LogGroupRow:
    name: str
    created_ms: int
    retention_days: int | None
    explicit: bool  # made by CreateLogGroup (else only a retention setting of a function's group)
