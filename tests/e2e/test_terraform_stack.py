"""Terraform (the real binary and hashicorp/aws from a local mirror) against a lambdalite server.

One stack (tests/e2e/terraform/stack.tf): function + layer + alias + version + event invoke config with
destinations + DLQ + SQS queues + EventBridge bus, rule and targets + aws_lambda_permission + the
function's log group with retention + an SQS event source mapping. `apply`, a second `plan` that finds
nothing to change, an async invoke through the stack (an event on the bus runs the alias, whose success
record lands on the destination queue; a message on the mapped queue runs it too), then `destroy`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import terraform
from tests.support.server import LambdaliteProcess, wait_until
from tests.support.zips import make_zip, python_zip

pytestmark = pytest.mark.skipif(terraform.skip_reason() is not None, reason=str(terraform.skip_reason()))

STACK = Path(__file__).parent / "terraform" / "stack.tf"
NAME = "tfstack"
HANDLER = """
import stacklib

def handler(event, context):
    if "Records" in event:  # a batch from the event source mapping
        print("mapping batch", [r["body"] for r in event["Records"]])
    else:
        print("terraform stack got", event.get("detail"))
    return {"seen": event.get("detail"), "version": context.function_version, "word": stacklib.WORD}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaliteProcess]:
    proc = LambdaliteProcess(tmp_path_factory.mktemp("terraform") / "data").start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def stack(server: LambdaliteProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[terraform.Terraform]:
    root = tmp_path_factory.mktemp("tf")
    zip_path = root / "function.zip"
    zip_path.write_bytes(python_zip(HANDLER))
    layer_path = root / "layer.zip"
    layer_path.write_bytes(make_zip({"python/stacklib.py": "WORD = 'from the layer'\n"}))
    tf = terraform.Terraform.create(root / "stack")
    tf.write("provider.tf", terraform.provider_block(server.endpoint))
    tf.write("stack.tf", STACK.read_text())
    tf.write("terraform.tfvars", f"zip_path = {json.dumps(str(zip_path))}\nname = {json.dumps(NAME)}\n"
             f"layer_zip_path = {json.dumps(str(layer_path))}\n")
    tf.init()
    yield tf


def _receive(sqs: Any, url: str) -> dict[str, Any]:
    def one() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        return json.loads(messages[0]["Body"]) if messages else None

    found: dict[str, Any] = wait_until(one, timeout_s=60, what=f"a message on {url}")
    return found


def test_apply_plan_invoke_destroy(server: LambdaliteProcess, stack: terraform.Terraform) -> None:
    stack.apply()
    plan = stack.plan_exitcode()
    assert plan.returncode == 0, f"the second plan wants changes: {plan.text()}"

    out = stack.outputs()
    lam, sqs, events = server.client("lambda"), server.client("sqs"), server.client("events")
    fn = lam.get_function(FunctionName=NAME)
    assert fn["Tags"] == {"team": "lambdalite"}
    assert fn["Configuration"]["DeadLetterConfig"]["TargetArn"].endswith(f":{NAME}-dlq")
    policy = json.loads(lam.get_policy(FunctionName=NAME, Qualifier="live")["Policy"])
    assert policy["Statement"][0]["Sid"] == "AllowEventBridge"
    assert policy["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    rule_arn = events.describe_rule(Name=f"{NAME}-rule", EventBusName=out["bus_name"])["Arn"]
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "team", "Value": "lambdalite"}]

    events.put_events(Entries=[{"Source": "lambdalite.terraform", "DetailType": "test", "Detail": '{"n": 42}',
                                "EventBusName": out["bus_name"]}])
    copied = _receive(sqs, out["events_url"])
    assert copied["detail"] == {"n": 42}
    record = _receive(sqs, out["success_url"])
    assert record["requestContext"]["functionArn"] == out["alias_arn"]
    assert record["responseContext"]["executedVersion"] == out["version"]
    assert record["responsePayload"] == {"seen": {"n": 42}, "version": out["version"], "word": "from the layer"}
    logs = server.client("logs")
    group = f"/aws/lambda/{NAME}"
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 7
    printed = wait_until(lambda: logs.filter_log_events(logGroupName=group, filterPattern='"stack got"')["events"],
                         timeout_s=10, what="the function's output in its log group")
    assert [e["message"] for e in printed] == ["terraform stack got {'n': 42}\n"]

    mapping = lam.get_event_source_mapping(UUID=out["mapping_uuid"])
    assert (mapping["State"], mapping["BatchSize"], mapping["FunctionArn"]) == ("Enabled", 5, out["alias_arn"])
    sqs.send_message(QueueUrl=out["inbox_url"], MessageBody="via the mapping")
    wait_until(lambda: logs.filter_log_events(logGroupName=group, filterPattern='"via the mapping"')["events"],
               timeout_s=30, what="the mapping's batch in the function's log")

    stack.destroy()
    assert NAME not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if NAME in u]
    assert NAME + "-bus" not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    assert lam.list_layers()["Layers"] == []
    assert lam.list_event_source_mappings(FunctionName=NAME)["EventSourceMappings"] == []
