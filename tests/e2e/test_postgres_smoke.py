"""lambdalite on PostgreSQL end to end: real servers on the session's private PostgreSQL, real boto3.

One node: async invoke -> the function runs -> its OnSuccess record lands on SQS. Two nodes with their
own data folders (an API-only `serve` and a `worker`): the worker has never seen the code, so it comes
from the database, and the accept on one node wakes the other's dispatcher (LISTEN/NOTIFY).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

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
from tests.support import postgres
from tests.support.server import LambdaliteProcess, free_port, wait_until

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")


@pytest.fixture
def database() -> Iterator[str]:
    with postgres.database() as url:
        yield url


def _on_success_round_trip(api: LambdaliteProcess, name: str) -> None:
    lam, sqs = api.client("lambda"), api.client("sqs")
    url = create_queue(sqs, f"{name}-records")
    create_function(lam, name, ECHO)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn(f"{name}-records")}})
    request_id = invoke_event(lam, name, b'{"n": 1}')
    record = receive_record(sqs, url)
    assert_record_shape(record, request_id=request_id, function=name, condition="Success", count=1)
    assert record["responsePayload"] == {"echo": {"n": 1}, "requestId": request_id}


def test_async_invoke_runs_and_its_success_record_reaches_sqs(tmp_path: Path, database: str) -> None:
    node = LambdaliteProcess(tmp_path / "data", env=FAST_ENV, store=database).start()
    try:
        _on_success_round_trip(node, "pg-ok")
    finally:
        node.kill()
    # The read-only tool reads the same database from anywhere (here: no data folder at all).
    shown = subprocess.run([sys.executable, "-m", "lambdalite", "queue", "--store", database,
                            "--data-dir", str(tmp_path / "elsewhere")], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[:5] == ["FUNCTION", "QUEUED", "IN_FLIGHT", "DELAYED", "OLDEST_AGE_S"]


def test_a_worker_on_another_data_folder_runs_code_uploaded_to_the_api_node(tmp_path: Path, database: str) -> None:
    api = LambdaliteProcess(tmp_path / "api", env=FAST_ENV, store=database, args=["--no-dispatch"]).start()
    worker = LambdaliteProcess(tmp_path / "worker", role="worker", port=free_port(), store=database,
                               env={**FAST_ENV, "LAMBDALITE_ENDPOINT_URL": api.endpoint}).start()
    try:
        _on_success_round_trip(api, "pg-two-nodes")
        assert any((tmp_path / "worker" / "code").iterdir()), "the worker unpacked the code from the database"
    finally:
        worker.kill()
        api.kill()


def test_serve_says_in_one_line_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    node = LambdaliteProcess(tmp_path / "data", store=url).start(wait=False)
    assert node.proc is not None
    assert node.proc.wait(timeout=60) == 1
    lines = [line for line in node.log_text().splitlines() if line.strip()]
    assert lines and lines[-1].startswith(f"lambdalite: cannot reach the store {url}: "), lines
    assert "Traceback" not in node.log_text()




def test_while_the_database_is_away_the_api_answers_service_exception_and_recovers(tmp_path: Path) -> None:
    own = postgres.PrivateServer().start()  # stopped and started by this test: not the session's server
    try:
        node = LambdaliteProcess(tmp_path / "data", env=FAST_ENV, store=own.fresh_database()).start()
        try:
            lam = node.client("lambda")
            create_function(lam, "pg-away", ECHO)
            own.stop("immediate")
            with pytest.raises(ClientError) as refused:
                lam.invoke(FunctionName="pg-away", InvocationType="Event", Payload=b"{}")
            error = refused.value.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert error["Error"]["Code"] == "ServiceException"
            assert "database" in error["Error"]["Message"]
            own.restart()

            def accepted() -> bool:
                try:
                    answer = lam.invoke(FunctionName="pg-away", InvocationType="Event", Payload=b"{}")
                except ClientError:
                    return False
                return bool(answer["StatusCode"] == 202)

            wait_until(accepted, timeout_s=30, what="the API to accept again once the database is back")
            _on_success_round_trip(node, "pg-back")  # the dispatcher and the job loop outlived the outage
        finally:
            node.kill()
    finally:
        own.destroy()
