"""Bucket notification configurations: `<NotificationConfiguration>` XML in and out, validation, and
which configurations an event matches (contract section 2.1).

Stored as JSON: {"configs": [{"id", "kind": "lambda"|"queue"|"topic", "arn", "events", "rules": [[Name,
Value]]}], "eventbridge": bool}. Rule names are stored as `Prefix` / `Suffix`, as GET returns them.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import orjson

from lambdalite import arn
from lambdalite.services.s3.wire import child_text, element, invalid_argument, malformed_xml, text

# XML element -> (kind, the element naming its ARN, its ArgumentName, the ARN's service)
_KINDS = {
    "CloudFunctionConfiguration": ("lambda", "CloudFunction", "lambda"),
    "QueueConfiguration": ("queue", "Queue", "sqs"),
    "TopicConfiguration": ("topic", "Topic", "sns"),
}
_ELEMENTS = {kind: (tag, arn_tag) for tag, (kind, arn_tag, _) in _KINDS.items()}
EVENTS = frozenset({
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*", "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:ObjectTagging:*", "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put", "s3:ReducedRedundancyLostObject", "s3:Replication:*",
    "s3:LifecycleExpiration:*", "s3:LifecycleTransition", "s3:IntelligentTiering",
})


@dataclass(slots=True)
class Config:
    id: str
    kind: str
    arn: str
    events: list[str]
    rules: list[list[str]] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return next((v for n, v in self.rules if n == "Prefix"), "")

    @property
    def suffix(self) -> str:
        return next((v for n, v in self.rules if n == "Suffix"), "")

    def matches(self, event_name: str, key: str) -> bool:
        """`event_name` as in the record (`ObjectCreated:Put`); `key` decoded."""
        family = event_name.split(":", 1)[0]
        wanted = f"s3:{event_name}" in self.events or f"s3:{family}:*" in self.events
        return wanted and key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(slots=True)
class Notification:
    configs: list[Config] = field(default_factory=list)
    eventbridge: bool = False

    def to_json(self) -> str | None:
        if not self.configs and not self.eventbridge:
            return None
        return orjson.dumps({"configs": [[c.id, c.kind, c.arn, c.events, c.rules] for c in self.configs],
                             "eventbridge": self.eventbridge}).decode()

    @classmethod
    def from_json(cls, raw: str | None) -> Notification:
        if not raw:
            return cls()
        data: dict[str, Any] = orjson.loads(raw)
        return cls([Config(*c) for c in data["configs"]], bool(data["eventbridge"]))

    def to_xml(self) -> str:
        out = []
        for kind in ("topic", "queue", "lambda"):
            tag, arn_tag = _ELEMENTS[kind]
            for c in (c for c in self.configs if c.kind == kind):
                rules = "".join(f"<FilterRule>{element('Name', n)}{element('Value', v)}</FilterRule>" for n, v in c.rules)
                filt = f"<Filter><S3Key>{rules}</S3Key></Filter>" if c.rules else ""
                events = "".join(element("Event", e) for e in c.events)
                out.append(f"<{tag}>{element('Id', c.id)}{element(arn_tag, c.arn)}{events}{filt}</{tag}>")
        if self.eventbridge:
            out.append("<EventBridgeConfiguration></EventBridgeConfiguration>")
        return "".join(out)


def parse(root: ET.Element) -> Notification:
    """The configuration a PUT sent, checked for form (ARNs, events, filter rules, overlaps)."""
    if root.tag != "NotificationConfiguration":
        raise malformed_xml()
    result = Notification()
    for node in root:
        if node.tag == "EventBridgeConfiguration":
            result.eventbridge = True
        elif node.tag in _KINDS:
            result.configs.append(_parse_one(node))
        else:
            raise malformed_xml()
    _check_overlaps(result.configs)
    return result


def _parse_one(node: ET.Element) -> Config:
    kind, arn_tag, service = _KINDS[node.tag]
    target = child_text(node, arn_tag)
    if target is None:
        raise malformed_xml()
    parsed = arn.parse(target)
    if parsed is None or parsed.service != service or not parsed.resource or not parsed.region:
        raise invalid_argument("The ARN could not be parsed", arn_tag, target)
    events = [e.text or "" for e in node.findall("Event")]
    if not events:
        raise malformed_xml()
    for name in events:
        if name not in EVENTS:
            raise invalid_argument("The event is not supported for notifications", name, name)
    return Config(child_text(node, "Id") or str(uuid.uuid4()), kind, target, events, _rules(node))


def _rules(node: ET.Element) -> list[list[str]]:
    rules: list[list[str]] = []
    for rule in node.findall("Filter/S3Key/FilterRule"):
        name, value = (child_text(rule, "Name") or "").lower(), child_text(rule, "Value") or ""
        if name not in ("prefix", "suffix"):
            raise invalid_argument("filter rule name must be either prefix or suffix", "FilterRule.Name", name)
        stored = name.capitalize()
        if any(n == stored for n, _ in rules):
            raise invalid_argument(f"Cannot specify more than one {name} rule in a filter.", "FilterRule.Name", name)
        rules.append([stored, value])
    return rules


def _shared_event(a: Config, b: Config) -> tuple[str, str] | None:
    for x in a.events:
        for y in b.events:
            if x == y or (x.endswith(":*") and y.startswith(x[:-1])) or (y.endswith(":*") and x.startswith(y[:-1])):
                return x, y
    return None


def _check_overlaps(configs: list[Config]) -> None:
    for i, a in enumerate(configs):
        for b in configs[i + 1:]:
            shared = _shared_event(a, b)
            if shared is None:
                continue
            prefixes = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
            suffixes = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
            if not (prefixes and suffixes):
                continue
            value = f"{shared[0]}, {shared[1]}"
            if not a.rules and not b.rules:
                raise invalid_argument("Configurations overlap. Configurations on the same bucket cannot share a "
                                       "common event type.", "Event", value)
            raise invalid_argument("Configuration is ambiguously defined. Cannot have overlapping suffixes in two "
                                   "rules if the prefixes are overlapping for the same event type.", "Event", value)


def destination_errors(problems: list[tuple[str, str]]) -> Exception:
    """`Unable to validate ...`: (ArgumentNameN, ArgumentValueN) per bad destination."""
    error = invalid_argument("Unable to validate the following destination configurations")
    for n, (name, value) in enumerate(problems, start=1):
        error.extra[f"ArgumentName{n}"] = name
        error.extra[f"ArgumentValue{n}"] = value
    return error


__all__ = ["Config", "Notification", "parse", "destination_errors", "text"]
