"""Put/Update/Get/Delete/List FunctionEventInvokeConfig through boto3 (contract section 4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.async_support import create_recorder
from tests.support.server import module_client, module_server

pytestmark = pytest.mark.both_backends  # the same tests on SQLite and on PostgreSQL

ARN = "arn:aws:lambda:us-east-1:000000000000:function"


srv = module_server("eic")
lam = module_client("lambda", server="srv")


@pytest.fixture
def name(lam: Any, tmp_path: Path) -> str:
    function = f"cfg-{uuid.uuid4().hex[:8]}"
    create_recorder(lam, function, tmp_path / "r.jsonl")
    return function


def error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_put_returns_the_config_with_qualified_arn_and_empty_destinations(lam: Any, name: str) -> None:
    before = datetime.now().astimezone()
    response = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert response["FunctionArn"] == f"{ARN}:{name}:$LATEST"
    assert response["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in response
    assert response["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert isinstance(response["LastModified"], datetime)
    assert abs((response["LastModified"] - before).total_seconds()) < 120


def test_last_modified_is_an_epoch_number_on_the_wire(srv: Any, lam: Any, name: str) -> None:
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=100)
    import urllib.request

    url = f"{srv.endpoint}/2019-09-25/functions/{name}/event-invoke-config"
    with urllib.request.urlopen(url) as r:
        import json

        body = json.loads(r.read())
    assert isinstance(body["LastModified"], float | int)
    assert body["MaximumEventAgeInSeconds"] == 100


def test_put_replaces_and_update_merges(lam: Any, name: str) -> None:
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=300)
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)
    assert "MaximumRetryAttempts" not in replaced and replaced["MaximumEventAgeInSeconds"] == 120
    merged = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert (merged["MaximumRetryAttempts"], merged["MaximumEventAgeInSeconds"]) == (0, 120)
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (0, 120)


def test_destinations_round_trip_and_on_success_empty_is_accepted(lam: Any, name: str, tmp_path: Path) -> None:
    target = f"target-{uuid.uuid4().hex[:8]}"
    create_recorder(lam, target, tmp_path / "t.jsonl")
    config = {"OnFailure": {"Destination": f"{ARN}:{target}"}}
    response = lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=config)
    assert response["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": f"{ARN}:{target}"}}
    empty = lam.update_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {}})
    assert empty["DestinationConfig"]["OnFailure"] == {"Destination": f"{ARN}:{target}"}
    assert empty["DestinationConfig"]["OnSuccess"] == {}


def test_get_and_delete(lam: Any, name: str) -> None:
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 2
    response = lam.delete_function_event_invoke_config(FunctionName=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, code, message = error_of(lam.get_function_event_invoke_config, FunctionName=name)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"The function {ARN}:{name}:$LATEST doesn't have an EventInvokeConfig"
    assert error_of(lam.delete_function_event_invoke_config, FunctionName=name)[:2] == (404, "ResourceNotFoundException")


def test_get_and_delete_of_a_missing_function_say_no_config(lam: Any) -> None:
    for call in (lam.get_function_event_invoke_config, lam.delete_function_event_invoke_config):
        status, code, message = error_of(call, FunctionName="ghost-fn")
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message == f"The function {ARN}:ghost-fn:$LATEST doesn't have an EventInvokeConfig"


def test_missing_function_on_put_update_list(lam: Any) -> None:
    for call, extra in (
        (lam.put_function_event_invoke_config, {"MaximumRetryAttempts": 1}),
        (lam.update_function_event_invoke_config, {"MaximumRetryAttempts": 1}),
        (lam.list_function_event_invoke_configs, {}),
    ):
        assert error_of(call, FunctionName="ghost-fn", **extra) == (
            404, "ResourceNotFoundException", "The function doesn't exist."
        )


def test_update_without_config_is_404(lam: Any, name: str) -> None:
    status, code, message = error_of(lam.update_function_event_invoke_config, FunctionName=name,
                                     MaximumRetryAttempts=1)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"The function {ARN}:{name}:$LATEST doesn't have an EventInvokeConfig"


def test_nothing_to_set_is_400(lam: Any, name: str) -> None:
    assert error_of(lam.put_function_event_invoke_config, FunctionName=name) == (
        400, "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    )


@pytest.mark.parametrize(
    ("member", "value", "wire", "constraint"),
    [
        ("MaximumRetryAttempts", 3, "maximumRetryAttempts", "Member must have value less than or equal to 2"),
        ("MaximumEventAgeInSeconds", 21601, "maximumEventAgeInSeconds",
         "Member must have value less than or equal to 21600"),
    ],
)
def test_values_above_maximum_are_validation_errors(lam: Any, name: str, member: str, value: int, wire: str,
                                                    constraint: str) -> None:
    status, code, message = error_of(lam.put_function_event_invoke_config, FunctionName=name, **{member: value})
    assert (status, code) == (400, "ValidationException")
    assert message == f"1 validation error detected: Value '{value}' at '{wire}' failed to satisfy constraint: {constraint}"


def test_destination_errors(lam: Any, name: str) -> None:
    missing = f"{ARN}:does-not-exist"
    assert error_of(lam.put_function_event_invoke_config, FunctionName=name,
                    DestinationConfig={"OnFailure": {"Destination": missing}}) == (
        400, "InvalidParameterValueException", f"The destination ARN {missing} is invalid."
    )
    assert error_of(lam.put_function_event_invoke_config, FunctionName=name,
                    DestinationConfig={"OnSuccess": {"Destination": f"{ARN}:{name}"}}) == (
        400, "InvalidParameterValueException", "You can't specify the function as a destination for itself."
    )


def test_configs_are_per_qualifier(lam: Any, name: str) -> None:
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion=version)
    on_alias = lam.put_function_event_invoke_config(FunctionName=name, Qualifier="prod", MaximumRetryAttempts=0)
    assert on_alias["FunctionArn"] == f"{ARN}:{name}:prod"
    on_version = lam.put_function_event_invoke_config(FunctionName=f"{name}:{version}", MaximumRetryAttempts=1)
    assert on_version["FunctionArn"] == f"{ARN}:{name}:{version}"
    assert error_of(lam.get_function_event_invoke_config, FunctionName=name)[0] == 404
    assert lam.get_function_event_invoke_config(FunctionName=name, Qualifier="prod")["MaximumRetryAttempts"] == 0
    assert error_of(lam.put_function_event_invoke_config, FunctionName=name, Qualifier="nope",
                    MaximumRetryAttempts=1)[:2] == (404, "ResourceNotFoundException")
    lam.update_function_configuration(FunctionName=name, Description="changed")
    newer = lam.publish_version(FunctionName=name)["Version"]
    assert newer != version
    assert error_of(lam.get_function_event_invoke_config, FunctionName=name, Qualifier=newer)[0] == 404


def test_list_with_paging(lam: Any, name: str) -> None:
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier=version, MaximumRetryAttempts=0)
    for alias in ("a1", "a2"):
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier=alias, MaximumEventAgeInSeconds=60)
    seen: list[str] = []
    marker: str | None = None
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=3, **kwargs)
        assert len(page["FunctionEventInvokeConfigs"]) <= 3
        seen += [c["FunctionArn"] for c in page["FunctionEventInvokeConfigs"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(seen) == sorted(f"{ARN}:{name}:{q}" for q in ("$LATEST", version, "a1", "a2"))
    status, code, _ = error_of(lam.list_function_event_invoke_configs, FunctionName=name, MaxItems=51)
    assert (status, code) == (400, "ValidationException")


def test_configs_go_with_the_function(lam: Any, name: str, tmp_path: Path) -> None:
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    lam.delete_function(FunctionName=name)
    create_recorder(lam, name, tmp_path / "again.jsonl")
    assert error_of(lam.get_function_event_invoke_config, FunctionName=name)[0] == 404


def test_function_arn_as_name(lam: Any, name: str) -> None:
    response = lam.put_function_event_invoke_config(FunctionName=f"{ARN}:{name}", MaximumRetryAttempts=2)
    assert response["FunctionArn"] == f"{ARN}:{name}:$LATEST"
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 2
