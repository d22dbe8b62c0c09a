"""Terraform's `aws_lambda_event_source_mapping` with the real binary and the hashicorp/aws provider from the
local filesystem mirror: apply, a second plan without changes, an update, destroy.

Skipped (with the reason) only when terraform or the provider mirror is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.esm_support import CONSUMER, batches
from tests.support.server import LambdaliteProcess, shared_file, wait_until
from tests.support.zips import python_zip

PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
MIRRORS = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins")


def _mirror() -> Path | None:
    configured = os.environ.get("LAMBDALITE_TF_MIRROR")
    for candidate in [Path(configured)] if configured else MIRRORS:
        if (candidate / PROVIDER).is_dir():
            return candidate
    return None


def _skip_reason() -> str | None:
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if _mirror() is None:
        return "no filesystem mirror holding registry.terraform.io/hashicorp/aws (set LAMBDALITE_TF_MIRROR)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

STACK = """
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  endpoints {
    lambda = "%(endpoint)s"
    sqs    = "%(endpoint)s"
  }
}

resource "aws_sqs_queue" "q" {
  name                       = "tf-esm-queue"
  visibility_timeout_seconds = 30
}

%(function)s

resource "aws_lambda_event_source_mapping" "m" {
  event_source_arn                   = aws_sqs_queue.q.arn
  function_name                      = %(function_ref)s
  batch_size                         = %(batch)d
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = 3
  }
  filter_criteria {
    filter {
      pattern = jsonencode({ body = { kind = ["order"] } })
    }
  }
  tags = { team = "orders" }
}

output "uuid" { value = aws_lambda_event_source_mapping.m.uuid }
output "queue_url" { value = aws_sqs_queue.q.url }
"""


FUNCTION = """
resource "aws_lambda_function" "consumer" {
  function_name = "tf-esm-consumer"
  role          = "arn:aws:iam::000000000000:role/lambda"
  runtime       = "python3.11"
  handler       = "handler.handler"
  filename      = "%(zip)s"
  timeout       = 10
  environment {
    variables = { RECORD_PATH = "%(record)s" }
  }
}
"""


def _function_by_terraform(lam: Any) -> bool:
    """Whether this build serves what `aws_lambda_function` reads (issue 13 adds it); else the test makes
    the function with boto3 and the stack names it, so the mapping's own flow is still held to Terraform."""
    try:
        lam.get_function_code_signing_config(FunctionName="tf-esm-probe")
    except ClientError as err:
        return bool(err.response["Error"]["Code"] != "UnknownOperationException")
    return True


def _terraform(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    mirror = _mirror()
    assert mirror is not None
    config = workdir / "cli.tfrc"
    config.write_text("provider_installation {\n  filesystem_mirror {\n"
                      f"    path    = {json.dumps(str(mirror))}\n    include = [\"*/*/*\"]\n  }}\n"
                      "  direct {\n    exclude = [\"*/*/*\"]\n  }\n}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update({"TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
                "TF_INPUT": "0", "AWS_EC2_METADATA_DISABLED": "true"})
    result = subprocess.run(["terraform", *args, "-no-color"], cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"terraform {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.mark.timeout(900)  # the provider's own SQS waiters take ~30 s per queue change (6 checks, 5 s apart)
def test_apply_plan_update_destroy(tmp_path: Path) -> None:
    api = LambdaliteProcess(tmp_path / "data").start()
    workdir = tmp_path / "tf"
    workdir.mkdir()
    record = tmp_path / "records.jsonl"
    (workdir / "consumer.zip").write_bytes(python_zip(CONSUMER))
    values: dict[str, Any] = {"endpoint": api.endpoint, "zip": workdir / "consumer.zip",
                              "record": shared_file(record), "batch": 20}
    try:
        lam = api.client("lambda")
        if _function_by_terraform(lam):
            values.update(function=FUNCTION % values, function_ref="aws_lambda_function.consumer.arn")
        else:
            lam.create_function(FunctionName="tf-esm-consumer", Runtime="python3.11", Handler="handler.handler",
                                Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": python_zip(CONSUMER)},
                                Timeout=10, Environment={"Variables": {"RECORD_PATH": values["record"]}})
            values.update(function="", function_ref='"tf-esm-consumer"')
        (workdir / "main.tf").write_text(STACK % values)
        _terraform(workdir, "init", "-input=false")
        _terraform(workdir, "apply", "-input=false", "-auto-approve")
        outputs = json.loads(_terraform(workdir, "output", "-json").stdout)
        uuid_ = outputs["uuid"]["value"]

        sqs = api.client("sqs")
        mapping = lam.get_event_source_mapping(UUID=uuid_)
        assert (mapping["State"], mapping["BatchSize"], mapping["ScalingConfig"]) == ("Enabled", 20,
                                                                                     {"MaximumConcurrency": 3})
        assert lam.list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"] == {"team": "orders"}

        plan = _terraform(workdir, "plan", "-input=false", "-detailed-exitcode", check=False)
        assert plan.returncode == 0, f"the second plan wants changes:\n{plan.stdout[-5000:]}{plan.stderr[-3000:]}"

        url = outputs["queue_url"]["value"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "n": 1}))
        wait_until(lambda: batches(record), timeout_s=60, what="the mapping Terraform made delivering")

        (workdir / "main.tf").write_text(STACK % {**values, "batch": 5})
        _terraform(workdir, "apply", "-input=false", "-auto-approve")
        assert lam.get_event_source_mapping(UUID=uuid_)["BatchSize"] == 5
        plan = _terraform(workdir, "plan", "-input=false", "-detailed-exitcode", check=False)
        assert plan.returncode == 0, f"the plan after the update wants changes:\n{plan.stdout[-5000:]}"

        _terraform(workdir, "destroy", "-input=false", "-auto-approve")
        assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    finally:
        api.kill()
