"""Layers, tags, policies and log retention on PostgreSQL with two nodes that share nothing but the
database: what one node publishes or sets, the other serves and runs (a layer's archive comes from the
database to a node that never saw it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import postgres
from tests.support.server import LambdaliteProcess
from tests.support.zips import make_zip, python_zip

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed (scripts/setup)")
ROLE = "arn:aws:iam::000000000000:role/lambda"


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[LambdaliteProcess, LambdaliteProcess]]:
    with postgres.database() as url:
        first = LambdaliteProcess(tmp_path / "one", store=url).start()
        second = LambdaliteProcess(tmp_path / "two", store=url).start()
        try:
            yield first, second
        finally:
            first.kill()
            second.kill()


def test_a_layer_published_on_one_node_runs_on_another(nodes: tuple[LambdaliteProcess, LambdaliteProcess]) -> None:
    first, second = nodes
    lam_one, lam_two = first.client("lambda"), second.client("lambda")
    layer = lam_one.publish_layer_version(LayerName="shared", Content={
        "ZipFile": make_zip({"python/sharedlib.py": "WHO = 'from the database'\n"})})
    code = "import sharedlib\n\ndef handler(event, context):\n    return sharedlib.WHO\n"
    arn = lam_one.create_function(FunctionName="pg-layered", Runtime="python3.11", Role=ROLE,
                                  Handler="handler.handler", Code={"ZipFile": python_zip(code)},
                                  Layers=[layer["LayerVersionArn"]], Tags={"k": "v"})["FunctionArn"]
    lam_one.add_permission(FunctionName="pg-layered", StatementId="s", Action="lambda:InvokeFunction",
                           Principal="events.amazonaws.com")
    out = lam_two.invoke(FunctionName="pg-layered", Payload=b"{}")
    assert json.loads(out["Payload"].read()) == "from the database", out.get("FunctionError")
    assert lam_two.list_tags(Resource=arn)["Tags"] == {"k": "v"}
    assert json.loads(lam_two.get_policy(FunctionName="pg-layered")["Policy"])["Statement"][0]["Sid"] == "s"
    assert lam_two.get_layer_version(LayerName="shared", VersionNumber=1)["Version"] == 1
    second.client("logs").put_retention_policy(logGroupName="/aws/lambda/pg-layered", retentionInDays=3)
    [group] = first.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/pg-")["logGroups"]
    assert group["retentionInDays"] == 3
