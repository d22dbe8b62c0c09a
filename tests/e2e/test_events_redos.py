"""A wildcard pattern built to make a backtracking matcher explode (issue 14, finding 1): TestEventPattern and
PutEvents answer at once while other requests keep flowing, and AWS's complexity limit refuses worse ones.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import CREDENTIALS, LambdaliteProcess, module_server, wait_until

# Six stars: within the limit, and a regex translation backtracks ~n^5 on a value of n 'a's.
HEAVY = "*a*a*a*a*a*c"
LONG_A = "a" * 300
EVENT = {"id": "1", "account": "123456789012", "source": "my.app", "time": "2024-01-01T00:00:00Z",
         "region": "us-east-1", "detail-type": "thing", "resources": [], "detail": {"v": LONG_A}}
TOO_COMPLEX = ("Event pattern is not valid. Reason: Rule is too complex - try using fewer wildcard characters "
               "or fewer repeating character sequences after a wildcard character")

srv = module_server("events-redos")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def quick(server: LambdaliteProcess, service: str) -> Any:
    """A client that gives up after 10 s: a wedged server fails the test instead of hanging it."""
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=5)
    return boto3.client(service, endpoint_url=server.endpoint, config=cfg, **CREDENTIALS)


def while_others_flow(server: LambdaliteProcess, heavy_call: Any) -> Any:
    """Run `heavy_call` on a thread while this thread keeps making other requests; its result."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = heavy_call()
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    other = quick(server, "events")
    for _ in range(20):
        assert other.describe_event_bus()["Name"] == "default"
    thread.join(timeout=15)
    assert not thread.is_alive(), "the heavy request did not answer"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_test_event_pattern_with_a_heavy_wildcard_answers_at_once(srv: LambdaliteProcess) -> None:
    ev = quick(srv, "events")
    pattern = json.dumps({"detail": {"v": [{"wildcard": HEAVY}]}})
    result = while_others_flow(srv, lambda: ev.test_event_pattern(EventPattern=pattern, Event=json.dumps(EVENT)))
    assert result["Result"] is False
    matching = {**EVENT, "detail": {"v": LONG_A + "c"}}
    assert ev.test_event_pattern(EventPattern=pattern, Event=json.dumps(matching))["Result"] is True


def test_put_events_against_a_heavy_wildcard_rule_answers_at_once(srv: LambdaliteProcess) -> None:
    ev, sqs = quick(srv, "events"), quick(srv, "sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("heavy")
    ev.put_rule(Name=rule, EventPattern=json.dumps({"detail": {"v": [{"wildcard": HEAVY}]}}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])

    def put_both() -> Any:
        return ev.put_events(Entries=[
            {"Source": "my.app", "DetailType": "miss", "Detail": json.dumps({"v": LONG_A})},
            {"Source": "my.app", "DetailType": "hit", "Detail": json.dumps({"v": LONG_A + "c"})},
        ])

    assert while_others_flow(srv, put_both)["FailedEntryCount"] == 0
    bodies: list[dict[str, Any]] = []

    def received() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
        return bool(bodies)

    wait_until(received, timeout_s=30, what="the matching event on the queue")
    assert [b["detail-type"] for b in bodies] == ["hit"]


@pytest.mark.parametrize("pattern", [
    {"detail": {"v": [{"wildcard": "*a*a*a*a*a*a*a*a*c"}]}},
    {"detail": {"v": [{"wildcard": "*:stack/a/*"}, {"wildcard": "*:stack/b/*"},
                      {"wildcard": "*:stack/c/*"}, {"wildcard": "*:stack/d/*"}]}},
])
def test_too_complex_wildcards_are_refused_as_aws_does(srv: LambdaliteProcess, pattern: dict[str, Any]) -> None:
    ev = quick(srv, "events")
    text = json.dumps(pattern)
    calls: list[Callable[[], Any]] = [lambda: ev.put_rule(Name=unique("complex"), EventPattern=text),
                                      lambda: ev.test_event_pattern(EventPattern=text, Event=json.dumps(EVENT))]
    for call in calls:
        with pytest.raises(ClientError) as info:
            call()
        error = info.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("InvalidEventPatternException", TOO_COMPLEX)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
