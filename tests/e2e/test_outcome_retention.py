"""Ended events' outcomes are queryable, then pruned after LAMBDALITE_OUTCOME_RETENTION_SECONDS."""

from __future__ import annotations

from tests.e2e.async_support import event_invoke, outcome, wait_outcome
from tests.support.server import wait_until
from tests.support.zips import ECHO, python_zip


def test_outcomes_are_pruned_after_their_retention(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(env={"LAMBDALITE_OUTCOME_RETENTION_SECONDS": "2", "LAMBDALITE_LEASE_SECONDS": "1.5"})
    lam = server.client("lambda")
    lam.create_function(FunctionName="kept", Runtime="python3.11", Handler="handler.handler",
                        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": python_zip(ECHO)})
    request_id = event_invoke(lam, "kept", {"a": 1})
    assert wait_outcome(server.data_dir, request_id)["condition"] == "Success"
    wait_until(lambda: outcome(server.data_dir, request_id) is None, timeout_s=30, what="the outcome pruned")
