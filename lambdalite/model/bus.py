"""EventBridge buses, rules and the targets a put event is routed to, as every backend returns them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MAX_TARGETS_PER_RULE = 5


@dataclass(slots=True)
class BusRecord:
    name: str
    arn: str
    description: str | None
    created_s: int
    modified_s: int


@dataclass(slots=True)
class RuleRecord:
    bus: str
    name: str
    arn: str
    pattern: str | None
    schedule: str | None
    state: str
    description: str | None
    role_arn: str | None


@dataclass(slots=True)
class RoutedTarget:
    """One target of one enabled rule with a pattern (what PutEvents routes to)."""

    rule: str
    rule_arn: str
    pattern: str
    target: dict[str, Any]


def rules_targeting(rows: list[tuple[str, bytes]], target_arn: str) -> list[str]:
    """Of (rule, stored target JSON) rows, the sorted names of the rules with a target of that ARN."""
    return sorted({rule for rule, target in rows if orjson.loads(target).get("Arn") == target_arn})
