"""Destination validation messages (contract section 4) against a real store (every backend)."""

from __future__ import annotations

from typing import Any

import pytest

from lambdalite.destinations.validate import (
    validate_dead_letter_target,
    validate_destination_config,
)
from lambdalite.node import Node
from lambdalite.services.http import AwsError
from lambdalite.store.protocol import Store
from tests.support.aio import run
from tests.support.backends import Backend
from tests.support.records import create_function

PREFIX = "arn:aws:lambda:us-east-1:000000000000:function"


@pytest.fixture
def node(backend: Backend, store: Store) -> Node:
    for name in ("f", "other"):
        run(create_function(store, name))
    return Node(settings=backend.settings(), store=store, pool=None)  # type: ignore[arg-type]


def check(node: Node, config: dict[str, Any], function: str = "f") -> None:
    run(validate_destination_config(node, function, None, "us-east-1", config))


def error_of(node: Node, config: dict[str, Any], function: str = "f") -> AwsError:
    with pytest.raises(AwsError) as info:
        check(node, config, function)
    return info.value


def test_accepts_supported_targets(node: Node) -> None:
    check(node, {"OnSuccess": {"Destination": f"{PREFIX}:other"},
                 "OnFailure": {"Destination": "arn:aws:s3:::bucket"}})
    check(node, {"OnSuccess": {"Destination": "arn:aws:events:us-east-1:000000000000:event-bus/default"},
                 "OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:topic"}})
    check(node, {"OnSuccess": {}})
    check(node, {"OnSuccess": {"Destination": f"{PREFIX}:other:$LATEST"}})


def test_missing_destination_function(node: Node) -> None:
    arn = f"{PREFIX}:missing"
    err = error_of(node, {"OnFailure": {"Destination": arn}})
    assert (err.status, err.code, err.message) == (
        400, "InvalidParameterValueException", f"The destination ARN {arn} is invalid.")
    assert err.rest_json_body() == {"Type": "User", "message": f"The destination ARN {arn} is invalid."}


def test_function_as_its_own_destination(node: Node) -> None:
    for function in ("f", f"{PREFIX}:f", "f:$LATEST"):
        err = error_of(node, {"OnSuccess": {"Destination": f"{PREFIX}:f:$LATEST"}}, function)
        assert err.message == "You can't specify the function as a destination for itself."


def test_unsupported_service_renders_both_sides(node: Node) -> None:
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t"
    err = error_of(node, {"OnSuccess": {"Destination": arn}})
    assert err.code == "InvalidParameterValueException"
    assert err.message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={arn}), "
        "onFailure=null) is invalid.")


def test_s3_only_on_failure(node: Node) -> None:
    s3 = "arn:aws:s3:::bucket"
    sns = "arn:aws:sns:us-east-1:000000000000:topic"
    err = error_of(node, {"OnSuccess": {"Destination": s3}, "OnFailure": {"Destination": sns}})
    assert err.message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={s3}), "
        f"onFailure=OnFailure(destination={sns})) is invalid.")


def test_missing_destination_queue(node: Node) -> None:
    arn = "arn:aws:sqs:us-east-1:000000000000:missing"
    err = error_of(node, {"OnSuccess": {"Destination": arn}})
    assert err.message == f"The destination ARN {arn} is invalid."


def test_not_an_arn_is_a_validation_error(node: Node) -> None:
    err = error_of(node, {"OnFailure": {"Destination": "not-an-arn"}})
    assert err.status == 400 and err.code == "ValidationException"
    assert err.message.startswith(
        "1 validation error detected: Value 'not-an-arn' at 'destinationConfig.onFailure.destination' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: ")
    assert "Type" not in err.rest_json_body()


def test_dead_letter_target(node: Node) -> None:
    validate_dead_letter_target(node, "arn:aws:sqs:us-east-1:000000000000:dlq")
    validate_dead_letter_target(node, "arn:aws:sns:us-east-1:000000000000:topic")
    validate_dead_letter_target(node, "")
    with pytest.raises(AwsError) as info:
        validate_dead_letter_target(node, f"{PREFIX}:other")
    assert info.value.code == "InvalidParameterValueException"
