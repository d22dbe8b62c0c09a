"""A function reaches lambdalite's data plane, not its control plane (services/function_access.py): it
cannot read another function's configuration (its secrets), take its code or replace it, whether it is
recognised by its sandboxed connection (no credentials configured) or by the keys minted for its role."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from lambdalite.runtime import sandbox
from tests.e2e.test_lambda_helpers import create
from tests.support.server import LambdaliteProcess
from tests.support.zips import python_zip

KEY, SECRET = "AKIDFUNCTIONACCESS01", "function-access-secret-0000000000000000000"

ATTACKER = """
import json
import boto3
from botocore.exceptions import ClientError

def attempt(call):
    try:
        call()
        return "allowed"
    except ClientError as e:
        return e.response["Error"]["Code"]

def handler(event, context):
    lam, sqs, events = boto3.client("lambda"), boto3.client("sqs"), boto3.client("events")
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    return {
        "read_config": attempt(lambda: lam.get_function_configuration(FunctionName="victim")),
        "get_code": attempt(lambda: lam.get_function(FunctionName="victim")),
        "replace_code": attempt(lambda: lam.update_function_code(FunctionName="victim", ZipFile=b"PK")),
        "list_functions": attempt(lambda: lam.list_functions()),
        "invoke": attempt(lambda: lam.invoke(FunctionName="victim", Payload=b"{}")),
        "send": attempt(lambda: sqs.send_message(QueueUrl=url, MessageBody="hi")),
        "receive": attempt(lambda: sqs.receive_message(QueueUrl=url)),
        "create_queue": attempt(lambda: sqs.create_queue(QueueName="made-by-a-function")),
        "put_events": attempt(lambda: events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])),
        "list_rules": attempt(lambda: events.list_rules()),
    }
"""
DATA_PLANE = {"invoke": "allowed", "send": "allowed", "receive": "allowed", "put_events": "allowed"}
DENIED = {"read_config": "AccessDeniedException", "get_code": "AccessDeniedException",
          "replace_code": "AccessDeniedException", "list_functions": "AccessDeniedException",
          "create_queue": "AccessDenied",  # SQS's query-compatible code
          "list_rules": "AccessDeniedException"}


def _world(tmp_path_factory: pytest.TempPathFactory, label: str, env: dict[str, str]) -> Iterator[dict[str, Any]]:
    server = LambdaliteProcess(tmp_path_factory.mktemp(label) / "data", env=env).start()
    try:
        key = {"key": KEY, "secret": SECRET} if "LAMBDALITE_CREDENTIALS" in env else {}
        lam, sqs = _client(server, "lambda", **key), _client(server, "sqs", **key)
        create(lam, "victim", Environment={"Variables": {"DB_PASSWORD": "topsecret"}})
        lam.create_function(FunctionName="attacker", Runtime="python3.11", Handler="handler.handler",
                            Role="arn:aws:iam::000000000000:role/attacker", Code={"ZipFile": python_zip(ATTACKER)},
                            Timeout=30)
        sqs.create_queue(QueueName="shared")
        yield {"server": server, "lambda": lam}
    finally:
        server.kill()


def _client(server: LambdaliteProcess, service: str, key: str = "test", secret: str = "test") -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, read_timeout=60))


def _attack(world: dict[str, Any]) -> dict[str, str]:
    out = world["lambda"].invoke(FunctionName="attacker", Payload=json.dumps({"queue": "shared"}))
    body: dict[str, str] = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


sandboxed_uids = pytest.mark.skipif(
    sandbox.probe().bwrap is None or sandbox.probe().setpriv is None or os.geteuid() != 0,
    reason="functions are told apart by their environments' own uids: needs bwrap, setpriv and root")


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from _world(tmp_path_factory, "access-open", {})


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Credentials on and the sandbox off: the minted keys alone say who is a function."""
    env = {"LAMBDALITE_CREDENTIALS": f"{KEY}:{SECRET}", "LAMBDALITE_SANDBOX": "off"}
    yield from _world(tmp_path_factory, "access-keyed", env)


@pytest.fixture(scope="module")
def all_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from _world(tmp_path_factory, "access-all", {"LAMBDALITE_FUNCTION_API": "all"})


@sandboxed_uids
def test_a_sandboxed_function_gets_the_data_plane_only(open_server: dict[str, Any]) -> None:
    assert _attack(open_server) == {**DATA_PLANE, **DENIED}
    victim = open_server["lambda"].get_function_configuration(FunctionName="victim")
    assert victim["Environment"]["Variables"] == {"DB_PASSWORD": "topsecret"}  # outside callers still may


def test_minted_keys_get_the_data_plane_only(keyed_server: dict[str, Any]) -> None:
    assert _attack(keyed_server) == {**DATA_PLANE, **DENIED}


@sandboxed_uids
def test_function_api_all_gives_functions_the_control_plane(all_server: dict[str, Any]) -> None:
    result = _attack(all_server)
    assert result["read_config"] == result["list_functions"] == result["create_queue"] == "allowed"
    assert result["replace_code"] != "AccessDeniedException"  # refused for its bad zip, not for access
