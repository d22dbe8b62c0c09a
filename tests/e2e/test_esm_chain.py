"""The chain end to end: function A (async) -> OnSuccess -> queue Q -> mapping -> function B; B's
failures land in Q's dead-letter queue after maxReceiveCount."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.async_support import create_recorder, event_invoke
from tests.e2e.esm_support import batches, create_consumer, create_queue, queue_arn, wait_enabled
from tests.support.server import LambdaliteProcess, wait_until


def test_async_success_record_flows_through_a_mapping_and_failures_reach_the_dlq(tmp_path: Path) -> None:
    api = LambdaliteProcess(tmp_path / "data").start()
    try:
        lam, sqs = api.client("lambda"), api.client("sqs")
        dlq_url = create_queue(sqs, "chain-dlq")
        create_queue(sqs, "chain-q", VisibilityTimeout="2", RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": queue_arn("chain-dlq"), "maxReceiveCount": 2}))
        create_recorder(lam, "chain-a", tmp_path / "a.jsonl")
        lam.put_function_event_invoke_config(
            FunctionName="chain-a", DestinationConfig={"OnSuccess": {"Destination": queue_arn("chain-q")}})
        b_path = tmp_path / "b.jsonl"
        create_consumer(lam, "chain-b", b_path, timeout_s=2)
        mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn("chain-q"), FunctionName="chain-b")
        wait_enabled(lam, mapping["UUID"])

        request_id = event_invoke(lam, "chain-a", {"order": 42})
        wait_until(lambda: batches(b_path), timeout_s=60, what="B invoked with A's record")
        record = json.loads(batches(b_path)[0]["bodies"][0])
        assert record["requestContext"]["requestId"] == request_id
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestPayload"] == {"order": 42}
        assert batches(b_path)[0]["records"][0]["eventSourceARN"] == queue_arn("chain-q")

        # B fails on anything without "ok": the record is retried once, then redriven to Q's DLQ
        lam.update_function_code(FunctionName="chain-b", ZipFile=_failing_zip())
        request_id = event_invoke(lam, "chain-a", {"order": 43})

        def in_dlq() -> dict[str, object] | None:
            for message in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", []):
                data = json.loads(message["Body"])
                if data["requestContext"]["requestId"] == request_id:
                    return data  # type: ignore[no-any-return]
            return None

        moved = wait_until(in_dlq, timeout_s=90, what="A's second record in Q's DLQ")
        assert moved["requestPayload"] == {"order": 43}
    finally:
        api.kill()


def _failing_zip() -> bytes:
    from tests.support.zips import python_zip

    return python_zip('''
def handler(event, context):
    raise RuntimeError("B fails")
''')
