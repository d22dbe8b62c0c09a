"""kill -9 between an event's success and its record's delivery: the record still arrives after restart.

The window is held open deterministically with LAMBDALITE_DELIVERY_START_DELAY (a test aid that delays
the delivery loop): the function runs, the dispatcher commits the delivery job, the job waits in the store.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.e2e.test_destinations_helpers import (
    ECHO,
    FAST_ENV,
    assert_record_shape,
    create_function,
    create_queue,
    invoke_event,
    queue_arn,
    receive_record,
)
from tests.support.server import LambdaliteProcess, wait_until


def pending(proc: LambdaliteProcess, kind: str) -> int:
    """Messages of a kind in the server's store (read-only look at the data folder)."""
    conn = sqlite3.connect(f"file:{proc.data_dir / 'lambdalite.db'}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM messages WHERE kind = ?", (kind,)).fetchone()[0])
    finally:
        conn.close()


def test_record_survives_kill_9_before_delivery(start_server: Any) -> None:
    proc: LambdaliteProcess = start_server(env={**FAST_ENV, "LAMBDALITE_DELIVERY_START_DELAY": "3600"})
    lam, sqs = proc.client("lambda"), proc.client("sqs")
    url = create_queue(sqs, "crash-records")
    create_function(lam, "crash-fn", ECHO)
    lam.put_function_event_invoke_config(
        FunctionName="crash-fn", DestinationConfig={"OnSuccess": {"Destination": queue_arn("crash-records")}})
    request_id = invoke_event(lam, "crash-fn", b'{"survives": "kill -9"}')

    wait_until(lambda: pending(proc, "delivery") == 1 and pending(proc, "lambda") == 0, timeout_s=30,
               what="the event to end and its delivery job to be committed")
    proc.kill()
    proc.env["LAMBDALITE_DELIVERY_START_DELAY"] = "0"
    proc.start()

    record = receive_record(proc.client("sqs"), url)
    assert_record_shape(record, request_id=request_id, function="crash-fn", condition="Success", count=1)
    assert record["requestPayload"] == {"survives": "kill -9"}
    wait_until(lambda: pending(proc, "delivery") == 0, timeout_s=10, what="the delivered job to be deleted")
