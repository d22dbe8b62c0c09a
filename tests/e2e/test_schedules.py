"""Scheduled rules end to end: PutRule with a ScheduleExpression (AWS's errors for bad ones), the exact
"Scheduled Event" at every tick to an SQS queue and a Lambda function, once per tick with two workers on
one data folder, and no backfill of the ticks missed while the server was down.

Time is shortened with LAMBDALITE_SCHEDULE_SCALE (rate periods and their grace); nothing is skipped.
"""

from __future__ import annotations

import calendar
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.async_support import create_recorder, records
from tests.support import postgres
from tests.support.awscli import run_cli
from tests.support.server import LambdaliteProcess, free_port, wait_until

SCALE = 0.05  # rate(1 minute) ticks every 3 s, and a tick more than 3 s late is skipped
PERIOD_S = 60 * SCALE
ENV = {"LAMBDALITE_SCHEDULE_SCALE": str(SCALE), "LAMBDA_RETRY_BASE_DELAY": "1",
       "LAMBDALITE_THROTTLE_BASE_DELAY": "0.2"}
TIME_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


class Inbox:
    """Everything an SQS queue received (received and deleted as it comes)."""

    def __init__(self, sqs: Any, url: str):
        self.sqs, self.url = sqs, url
        self.bodies: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            self.bodies.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.bodies

    def wait_for(self, count: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        wait_until(lambda: len(self.poll()) >= count, timeout_s=timeout_s, what=f"{count} scheduled events")
        return self.bodies


def epoch_s(event: dict[str, Any]) -> int:
    return calendar.timegm(time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ"))


def scheduled_rule(ev: Any, queue_arn: str, expression: str = "rate(1 minute)") -> tuple[str, str]:
    name = unique("every")
    arn = ev.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"]
    ev.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    return name, arn


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc = LambdaliteProcess(tmp_path_factory.mktemp("schedules") / "data", env=ENV).start()
    try:
        yield proc
    finally:
        proc.kill()


def test_put_rule_validates_schedule_expressions(server: LambdaliteProcess) -> None:
    ev = server.client("events")
    for bad in ("rate(1 minutes)", "rate(10 minute)", "rate(0 minutes)", "rate(10 seconds)", "cron(0 1 * * * *)",
                "cron(71 8 1 * ? *)", "cron(7 20 * * NOT *)", "cron(0 10 * * ?)", "cron(0 0 ? * 3#1,6#3 *)"):
        assert error_of(ev.put_rule, Name="bad", ScheduleExpression=bad) == (
            "ValidationException", "Parameter ScheduleExpression is not valid.", 400), bad
    ev.create_event_bus(Name="custom-sched")
    assert error_of(ev.put_rule, Name="x", ScheduleExpression="rate(5 minutes)", EventBusName="custom-sched") == (
        "ValidationException", "ScheduleExpression is supported only on the default event bus.", 400)
    arn = ev.put_rule(Name="nightly", ScheduleExpression="cron(15 10 ? * 6L 2002-2005)")["RuleArn"]
    assert arn == "arn:aws:events:us-east-1:000000000000:rule/nightly"
    described = ev.describe_rule(Name="nightly")
    assert described["ScheduleExpression"] == "cron(15 10 ? * 6L 2002-2005)" and "EventPattern" not in described
    listed = {r["Name"]: r for r in ev.list_rules(NamePrefix="nightly")["Rules"]}
    assert listed["nightly"]["ScheduleExpression"] == "cron(15 10 ? * 6L 2002-2005)"


def test_a_rate_rule_sends_the_scheduled_event_to_sqs_at_every_tick(server: LambdaliteProcess) -> None:
    ev, sqs = server.client("events"), server.client("sqs")
    url, queue_arn = make_queue(sqs)
    name, arn = scheduled_rule(ev, queue_arn)
    bodies = Inbox(sqs, url).wait_for(3)
    first = bodies[0]
    assert list(first) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"]
    assert (first["version"], first["detail-type"], first["source"], first["account"], first["region"]) == (
        "0", "Scheduled Event", "aws.events", "000000000000", "us-east-1")
    assert first["resources"] == [arn] and first["detail"] == {}
    assert TIME_FORMAT.fullmatch(first["time"])
    uuid.UUID(first["id"])
    assert len({b["id"] for b in bodies}) == len(bodies)
    times = [epoch_s(b) for b in bodies]
    assert [later - earlier for earlier, later in zip(times, times[1:], strict=False)] == [PERIOD_S] * (len(times) - 1)
    ev.disable_rule(Name=name)


def test_disabled_rules_do_not_fire_and_pattern_events_do_not_trigger_schedules(server: LambdaliteProcess) -> None:
    ev, sqs = server.client("events"), server.client("sqs")
    url, queue_arn = make_queue(sqs)
    name = unique("off")
    ev.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State="DISABLED")
    ev.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    marker = unique("marker")
    ev.put_rule(Name=marker, EventPattern=json.dumps({"source": [marker]}))
    ev.put_targets(Rule=marker, Targets=[{"Id": "q", "Arn": queue_arn}])
    ev.put_events(Entries=[{"Source": marker, "DetailType": "m", "Detail": "{}"}])
    inbox = Inbox(sqs, url)
    inbox.wait_for(1)
    started = time.monotonic()
    while time.monotonic() - started < 3 * PERIOD_S:  # three periods of a disabled rule: nothing
        inbox.poll()
    assert [b["detail-type"] for b in inbox.bodies] == ["m"]
    ev.enable_rule(Name=name)
    assert inbox.wait_for(2)[1]["detail-type"] == "Scheduled Event"
    ev.disable_rule(Name=name)


def test_a_lambda_target_is_invoked_with_the_scheduled_event(server: LambdaliteProcess, tmp_path: Path) -> None:
    ev, lam = server.client("events"), server.client("lambda")
    record_path = tmp_path / "records.jsonl"
    function = unique("on-schedule")
    function_arn = create_recorder(lam, function, record_path)["FunctionArn"]
    name = unique("every")
    arn = ev.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    ev.put_targets(Rule=name, Targets=[{"Id": "f", "Arn": function_arn}])
    got = wait_until(lambda: records(record_path), timeout_s=60, what="the function's record")
    event = got[0]["event"]
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                          "detail"}
    assert (event["detail-type"], event["source"], event["resources"], event["detail"]) == (
        "Scheduled Event", "aws.events", [arn], {})
    ev.disable_rule(Name=name)


def _fire_once_with_two_workers(api: LambdaliteProcess, workers: list[LambdaliteProcess]) -> None:
    try:
        ev, sqs = api.client("events"), api.client("sqs")
        url, queue_arn = make_queue(sqs)
        scheduled_rule(ev, queue_arn)
        bodies = Inbox(sqs, url).wait_for(6, timeout_s=90)
        times = [epoch_s(b) for b in bodies]
        assert len(set(times)) == len(times), sorted(times)  # never twice
        times.sort()
        assert [later - earlier for earlier, later in zip(times, times[1:], strict=False)] == (
            [PERIOD_S] * (len(times) - 1)), times  # and never skipped while both run
    finally:
        api.kill()
        for worker in workers:
            worker.kill()


def test_two_workers_fire_each_tick_exactly_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api = LambdaliteProcess(data_dir, env=ENV, args=["--no-dispatch"]).start()
    _fire_once_with_two_workers(api, [LambdaliteProcess(data_dir, role="worker", env=ENV).start() for _ in range(2)])


@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")
def test_two_workers_on_postgresql_fire_each_tick_exactly_once(tmp_path: Path) -> None:
    with postgres.database() as url:
        api = LambdaliteProcess(tmp_path / "api", env=ENV, store=url, args=["--no-dispatch"]).start()
        env = {**ENV, "LAMBDALITE_ENDPOINT_URL": api.endpoint}
        _fire_once_with_two_workers(api, [LambdaliteProcess(tmp_path / f"worker{i}", role="worker", port=free_port(),
                                                            store=url, env=env).start() for i in range(2)])


def test_no_backfill_of_ticks_missed_while_down(tmp_path: Path) -> None:
    proc = LambdaliteProcess(tmp_path / "data", env=ENV).start()
    try:
        ev, sqs = proc.client("events"), proc.client("sqs")
        url, queue_arn = make_queue(sqs)
        scheduled_rule(ev, queue_arn)
        inbox = Inbox(sqs, url)
        inbox.wait_for(2)
        proc.stop()
        stopped_s = time.time()
        time.sleep(5 * PERIOD_S)  # the downtime itself: five ticks pass with no server
        proc.start()
        restarted_s = time.time()
        ev, sqs = proc.client("events"), proc.client("sqs")
        inbox.sqs = sqs
        later = [b for b in inbox.wait_for(len(inbox.bodies) + 2) if epoch_s(b) > stopped_s + 1]
        grace_s = PERIOD_S
        missed = [b["time"] for b in later if epoch_s(b) < restarted_s - grace_s - 1]
        assert missed == [], (missed, stopped_s, restarted_s)
        times = sorted(epoch_s(b) for b in inbox.bodies)
        assert len(set(times)) == len(times)
    finally:
        proc.kill()


@pytest.mark.parametrize("version", [1, 2])
def test_the_readme_walkthrough_with_the_aws_cli(server: LambdaliteProcess, version: int) -> None:
    sqs = server.client("sqs")
    url, queue_arn = make_queue(sqs)
    name = unique("every-minute")
    rule = run_cli(version, server.endpoint, ["events", "put-rule", "--name", name,
                                              "--schedule-expression", "rate(1 minute)"])
    assert json.loads(rule.stdout)["RuleArn"].endswith(f":rule/{name}")
    run_cli(version, server.endpoint, ["events", "put-targets", "--rule", name, "--targets", f"Id=1,Arn={queue_arn}"])
    (event,) = Inbox(sqs, url).wait_for(1)[:1]
    assert event["detail-type"] == "Scheduled Event"
    run_cli(version, server.endpoint, ["events", "disable-rule", "--name", name])
