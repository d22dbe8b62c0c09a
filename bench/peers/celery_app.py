"""Celery app for the benchmark: Redis broker, no result backend, the shared trivial handler.

Started as `celery -A bench.peers.celery_app worker --pool=prefork --concurrency=<cores>`; the broker URL
and the sink file come from the environment (BENCH_REDIS_URL, BENCH_SINK).
"""

from __future__ import annotations

import os

from celery import Celery

from bench.sink import record

app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.echo")
def echo(event: dict[str, object]) -> dict[str, object]:
    return record(event)


def send(event: dict[str, object]) -> None:
    echo.delay(event)
