"""Per-function metrics with AWS's names, exposed in the Prometheus text format at /metrics.

prometheus-client does the exposition and thread safety; names and meanings follow CloudWatch's
AWS/Lambda namespace so dashboards translate one to one.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)
_LABELS = ("function_name",)

INVOCATIONS = Counter("lambda_Invocations", "Invocations of the function (attempts)", _LABELS, registry=REGISTRY)
ERRORS = Counter("lambda_Errors", "Invocations that ended in a function error", _LABELS, registry=REGISTRY)
THROTTLES = Counter("lambda_Throttles", "Invocation requests refused for lack of concurrency", _LABELS, registry=REGISTRY)
DURATION = Histogram(
    "lambda_Duration_milliseconds",
    "Time the function code ran",
    _LABELS,
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000),
    registry=REGISTRY,
)
CONCURRENT = Gauge("lambda_ConcurrentExecutions", "Invocations running now", _LABELS, registry=REGISTRY)
ASYNC_RECEIVED = Counter("lambda_AsyncEventsReceived", "Events queued for async invocation", _LABELS, registry=REGISTRY)
ASYNC_AGE = Histogram(
    "lambda_AsyncEventAge_milliseconds",
    "Time from queueing to each invocation attempt",
    _LABELS,
    buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 30000, 60000, 300000, 3600000, 21600000),
    registry=REGISTRY,
)
ASYNC_DROPPED = Counter("lambda_AsyncEventsDropped", "Events that ended without success", _LABELS, registry=REGISTRY)
DEAD_LETTER_ERRORS = Counter("lambda_DeadLetterErrors", "Failed deliveries to a dead-letter queue", _LABELS, registry=REGISTRY)
DESTINATION_FAILURES = Counter(
    "lambda_DestinationDeliveryFailures", "Failed deliveries to a destination", _LABELS, registry=REGISTRY
)
RECURSION_DROPPED = Counter(
    "lambda_RecursiveInvocationsDropped", "Events stopped as a recursive loop", _LABELS, registry=REGISTRY
)

# Gauges for alerting, refreshed from the store before each /metrics scrape (and by the console).
QUEUE_DEPTH = Gauge("lambdalite_AsyncQueueDepth", "Async events in the function's queue (queued, delayed, in flight)",
                    _LABELS, registry=REGISTRY)
OLDEST_EVENT_AGE = Gauge("lambdalite_AsyncOldestEventAge_seconds", "Age of the oldest event in the function's queue",
                         _LABELS, registry=REGISTRY)
IN_FLIGHT = Gauge("lambdalite_AsyncEventsInFlight", "Async events leased by a dispatcher (running)", _LABELS,
                  registry=REGISTRY)


def set_queue_gauges(rows: list[tuple[str, int, float, int]]) -> None:
    """(function, depth, oldest age s, in flight) for every function; functions gone are dropped."""
    seen = {name for name, *_ in rows}
    for gauge in (QUEUE_DEPTH, OLDEST_EVENT_AGE, IN_FLIGHT):
        for labels in [k for k in list(gauge._metrics) if k[0] not in seen]:
            gauge.remove(*labels)
    for name, depth, age_s, in_flight in rows:
        QUEUE_DEPTH.labels(name).set(depth)
        OLDEST_EVENT_AGE.labels(name).set(age_s)
        IN_FLIGHT.labels(name).set(in_flight)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class FunctionMetrics:
    """One function's labelled series, looked up once (a `.labels()` call per event adds up)."""

    __slots__ = ("invocations", "errors", "throttles", "duration", "concurrent", "async_age")

    def __init__(self, name: str):
        self.invocations = INVOCATIONS.labels(name)
        self.errors = ERRORS.labels(name)
        self.throttles = THROTTLES.labels(name)
        self.duration = DURATION.labels(name)
        self.concurrent = CONCURRENT.labels(name)
        self.async_age = ASYNC_AGE.labels(name)


@functools.lru_cache(maxsize=4096)
def of(function_name: str) -> FunctionMetrics:
    return FunctionMetrics(function_name)
