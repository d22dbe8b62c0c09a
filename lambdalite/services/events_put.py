"""PutEvents and TestEventPattern: validate entries, build the event envelope, route it to matching rules.

Delivery is durable and asynchronous, as in AWS: every (event, matched target) pair becomes one job in
the shared queue engine (kind "events-target") written in ONE group-committed transaction before
PutEvents answers; destinations/rule_targets.py then hands each job to its target (SQS message, Lambda async
invoke, another bus) and retries failures with backoff within the target's RetryPolicy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from lambdalite.destinations.rule_targets import job_body
from lambdalite.model.bus import RoutedTarget
from lambdalite.model.event import RULE_TARGET_KIND
from lambdalite.model.queue import NewMessage
from lambdalite.node import Node
from lambdalite.patterns import InvalidPatternError, compile_pattern
from lambdalite.services.http import AwsError, validation_error
from lambdalite.wakeups import JOBS

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024


def _entry_error(code: str, message: str) -> dict[str, Any]:
    return {"ErrorCode": code, "ErrorMessage": message}


def _required(name: str) -> dict[str, Any]:
    return _entry_error("InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument.")


def iso_time(value: Any) -> str | None:
    """An entry's Time (epoch seconds from botocore, ISO text, or datetime) as AWS's event time."""
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):  # beyond what a datetime holds
            return None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    else:
        return None
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # e.g. year 1 with a positive offset
        return None


def build_event(node: Node, region: str, entry: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(envelope, None) for a valid entry, else (None, per-entry error) as AWS reports it."""
    if not isinstance(entry, dict):
        return None, _entry_error("InvalidArgument", "Entry must be a JSON object.")
    source, detail_type, detail = entry.get("Source"), entry.get("DetailType"), entry.get("Detail")
    if not isinstance(source, str) or not source:
        return None, _required("Source")
    if not isinstance(detail_type, str) or not detail_type:
        return None, _required("DetailType")
    if not isinstance(detail, str) or not detail:
        return None, _required("Detail")
    try:
        parsed = orjson.loads(detail)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or _too_deep(detail, parsed):
        return None, _entry_error("MalformedDetail", "Detail is malformed.")
    resources = entry.get("Resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        return None, _entry_error("InvalidArgument", "Parameter Resources is not valid.")
    time_text = iso_time(entry.get("Time"))
    if time_text is None:
        return None, _entry_error("InvalidArgument", "Parameter Time is not valid.")
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": node.settings.account_id,
        "time": time_text,
        "region": region,
        "resources": resources,
        "detail": parsed,
    }
    return event, None


def _too_deep(text: str, parsed: dict[str, Any]) -> bool:
    """A detail nested too deep to be written back as JSON inside a job or a record (orjson stops at 255
    levels; four are kept for the envelopes around it). Only deeply bracketed texts pay for the check."""
    if text.count("{") + text.count("[") < 200:
        return False
    try:
        orjson.dumps({"1": {"2": {"3": {"4": parsed}}}})
    except orjson.JSONEncodeError:
        return True
    return False


def _bus_of(entry: Any, region: str) -> tuple[str, str]:
    """(region, bus name) an entry goes to: a bus ARN carries its own region."""
    value = entry.get("EventBusName") if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value:
        return region, "default"
    if value.startswith("arn:") and ":event-bus/" in value:
        parts = value.split(":", 5)
        return (parts[3] or region), value.rsplit(":event-bus/", 1)[1]
    return region, value


def _entry_bytes(entry: Any) -> int:
    if not isinstance(entry, dict):
        return 0
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode())
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode())
    return size


# ---- routing ------------------------------------------------------------------------------------


async def route_events(node: Node, events: list[tuple[str, str, dict[str, Any]]], trace_id: str | None = None) -> int:
    """Queue one delivery job per matching target for (region, bus, event) triples; one commit."""
    cache: dict[tuple[str, str], list[RoutedTarget]] = {}
    jobs: list[bytes] = []
    for region, bus, event in events:
        key = (region, bus)
        if key not in cache:
            cache[key] = await node.store.routed_targets(region, bus)
        matched: dict[str, bool] = {}
        for routed in cache[key]:
            hit = matched.get(routed.rule)
            if hit is None:
                hit = matched[routed.rule] = _matches(routed.pattern, event)
            if hit:
                # trace_id: the PutEvents caller's X-Amzn-Trace-Id: a Lambda target continues its chain
                jobs.append(job_body(event, region, routed.rule, routed.rule_arn, routed.target, trace_id))
    if not jobs:
        return 0

    await node.store.enqueue_jobs(
        [NewMessage(kind=RULE_TARGET_KIND, queue=RULE_TARGET_KIND, id=str(uuid.uuid4()), body=body) for body in jobs]
    )
    node.wakeups.notify(JOBS)
    return len(jobs)


def _matches(pattern: str, event: dict[str, Any]) -> bool:
    try:
        return compile_pattern(pattern, limit_complexity=False).matches(event)
    except InvalidPatternError:  # stored patterns were validated; never let one break routing
        return False


async def put_events_internal(node: Node, region: str, entries: list[dict[str, Any]],
                              trace_id: str | None = None) -> list[dict[str, Any]]:
    """PutEvents from inside lambdalite (Lambda's EventBridge destination): result entries, same rules.
    `trace_id`: the causing call's trace header, carried to Lambda targets (recursive-loop detection)."""
    results: list[dict[str, Any]] = []
    routed: list[tuple[str, str, dict[str, Any]]] = []
    known: dict[tuple[str, str], bool] = {}
    for entry in entries:
        bus_region, bus = _bus_of(entry, region)
        event, error = build_event(node, bus_region, entry)
        if event is None:
            results.append(error or {})
            continue
        key = (bus_region, bus)
        if key not in known:
            known[key] = await _bus_exists(node, bus_region, bus)
        if not known[key]:
            results.append(_entry_error("ResourceNotFoundException", f"Event bus {bus} does not exist."))
            continue
        routed.append((bus_region, bus, event))
        results.append({"EventId": event["id"]})
    await route_events(node, routed, trace_id)
    return results


async def _bus_exists(node: Node, region: str, bus: str) -> bool:
    if bus == "default":
        return True
    return await node.store.get_bus(region, bus) is not None


async def put_events_request(node: Node, region: str, body: dict[str, Any],
                             trace_id: str | None = None) -> dict[str, Any]:
    entries = body.get("Entries")
    if entries is None:
        raise validation_error("null", "entries", "Member must not be null")
    if not isinstance(entries, list):
        raise AwsError(400, "SerializationException", "Value for Entries must be a list")
    if not 1 <= len(entries) <= MAX_ENTRIES:
        bound = "greater than or equal to 1" if not entries else f"less than or equal to {MAX_ENTRIES}"
        raise validation_error(entries, "entries", f"Member must have length {bound}")
    if sum(_entry_bytes(e) for e in entries) > MAX_REQUEST_BYTES:
        raise AwsError(400, "ValidationException", "Total size of the entries in the request is over the limit.")
    results = await put_events_internal(node, region, entries, trace_id)
    failed = sum(1 for r in results if "ErrorCode" in r)
    return {"FailedEntryCount": failed, "Entries": results}


# ---- TestEventPattern ---------------------------------------------------------------------------

_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


def test_event_pattern(body: dict[str, Any]) -> dict[str, Any]:
    pattern, event_text = body.get("EventPattern"), body.get("Event")
    if not isinstance(pattern, str):
        raise validation_error("null", "eventPattern", "Member must not be null")
    if not isinstance(event_text, str):
        raise validation_error("null", "event", "Member must not be null")
    try:
        compiled = compile_pattern(pattern)
    except InvalidPatternError as err:
        raise AwsError(400, "InvalidEventPatternException", str(err)) from None
    try:
        event = orjson.loads(event_text)
    except orjson.JSONDecodeError:
        raise AwsError(400, "ValidationException", "Parameter Event is not valid.") from None
    if not isinstance(event, dict):
        raise AwsError(400, "ValidationException", "Parameter Event is not valid.")
    missing = [f for f in _EVENT_FIELDS if f not in event]
    if missing:
        raise AwsError(400, "ValidationException",
                       f"Parameter Event is not valid. Reason: Provided Event is missing field(s): {', '.join(missing)}")
    return {"Result": compiled.matches(event)}
