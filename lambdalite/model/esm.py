"""SQS event source mappings as every backend stores them, and how their state reads over time (pure).

A change (create, update, enable, disable, delete) stores a transitional state (`Creating`, `Updating`,
`Enabling`, `Disabling`, `Deleting`) with the time it was made; it reads as settled (`Enabled` /
`Disabled`, or gone) once SETTLE_MS have passed, whichever process asks and whether or not a poller
runs, so clients that wait for a settled state (Terraform) never wait on a dispatcher.
Pollers act on the stored intent at once: `enabled`, and `deleting`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

SETTLE_MS = 500  # the contract: transitional states settle within about a second
PURGE_AFTER_MS = 60_000  # a deleted mapping's row is removed (by later writes) this long after it is gone
CREATING, ENABLING, DISABLING, UPDATING, DELETING = "Creating", "Enabling", "Disabling", "Updating", "Deleting"
ENABLED, DISABLED = "Enabled", "Disabled"
TRANSITIONAL = frozenset({CREATING, ENABLING, DISABLING, UPDATING, DELETING})
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    uuid: str
    region: str
    source_arn: str  # the SQS queue's ARN
    function_name: str  # the function's name (no qualifier)
    function_arn: str  # as configured: the qualifier given is kept
    batch_size: int
    window_s: int  # MaximumBatchingWindowInSeconds
    enabled: bool
    state: str  # as last set (transitional until SETTLE_MS after changed_ms)
    changed_ms: int  # LastModified
    filters: tuple[str, ...] = ()  # FilterCriteria patterns (JSON text), ORed
    response_types: tuple[str, ...] = ()  # FunctionResponseTypes
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def deleting(self) -> bool:
        return self.state == DELETING

    @property
    def polling(self) -> bool:
        """Whether pollers should deliver now (the stored intent, not the displayed state)."""
        return self.enabled and not self.deleting

    @property
    def reports_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.response_types

    def state_at(self, now_ms: int) -> str | None:
        """The state a client sees at `now_ms`; None once a deleted mapping is gone."""
        if self.state not in TRANSITIONAL or now_ms - self.changed_ms < SETTLE_MS:
            return self.state
        if self.deleting:
            return None
        return ENABLED if self.enabled else DISABLED

    def changed(self, now_ms: int, **changes: Any) -> EventSourceMapping:
        """This mapping with `changes`, in the transitional state the change puts it in."""
        updated = replace(self, **changes)
        toggled = updated.enabled != self.enabled
        state = UPDATING if not toggled else ENABLING if updated.enabled else DISABLING
        return replace(updated, state=state, changed_ms=now_ms)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> EventSourceMapping:
        raw = orjson.loads(data)
        for key in ("filters", "response_types"):
            raw[key] = tuple(raw.get(key) or ())
        return cls(**raw)
