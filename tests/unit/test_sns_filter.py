"""SNS filter policies (pure): every match type in both scopes, `$or`, and the validation messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalite.destinations.sns_filter import FilterPolicy, PolicyError


def attrs(**values: Any) -> dict[str, dict[str, str]]:
    out = {}
    for name, value in values.items():
        if isinstance(value, list):
            out[name] = {"Type": "String.Array", "Value": json.dumps(value)}
        elif isinstance(value, bytes):
            out[name] = {"Type": "Binary", "Value": value.decode()}
        else:
            out[name] = {"Type": "Number" if isinstance(value, int | float) else "String", "Value": str(value)}
    return out


def on_attributes(policy: dict[str, Any], **values: Any) -> bool:
    return FilterPolicy.parse(json.dumps(policy)).matches(attrs(**values), "")


def on_body(policy: dict[str, Any], body: Any) -> bool:
    text = body if isinstance(body, str) else json.dumps(body)
    return FilterPolicy.parse(json.dumps(policy), "MessageBody").matches({}, text)


@pytest.mark.parametrize(("condition", "value", "expected"), [
    ("red", "red", True), ("red", "Red", False), ("5", 5, False),
    (5, 5, True), (5, 5.0, True), (5, "5", False),
    ({"prefix": "ab"}, "abc", True), ({"prefix": "ab"}, "xab", False),
    ({"suffix": ".png"}, "a.png", True), ({"suffix": ".png"}, "a.jpg", False),
    ({"equals-ignore-case": "RED"}, "red", True), ({"equals-ignore-case": "RED"}, "rad", False),
    ({"anything-but": "red"}, "blue", True), ({"anything-but": "red"}, "red", False),
    ({"anything-but": ["a", "b"]}, "b", False), ({"anything-but": [1, 2]}, 3, True), ({"anything-but": [1, 2]}, 2, False),
    ({"anything-but": {"prefix": "int-"}}, "int-x", False), ({"anything-but": {"prefix": "int-"}}, "ext-x", True),
    ({"numeric": [">", 0, "<=", 100]}, 100, True), ({"numeric": [">", 0, "<=", 100]}, 0, False),
    ({"numeric": ["=", 3.5]}, 3.5, True), ({"numeric": ["<", 10]}, "5", False),
    ({"cidr": "10.0.0.0/24"}, "10.0.0.7", True), ({"cidr": "10.0.0.0/24"}, "10.0.1.7", False),
])
def test_match_types_on_attributes(condition: Any, value: Any, expected: bool) -> None:
    assert on_attributes({"k": [condition]}, k=value) is expected


def test_exists_and_absent_attributes() -> None:
    assert on_attributes({"k": [{"exists": True}]}, k="x")
    assert not on_attributes({"k": [{"exists": True}]}, other="x")
    assert on_attributes({"k": [{"exists": False}]}, other="x")
    assert not on_attributes({"k": [{"exists": False}]}, k="x")
    assert not on_attributes({"k": [{"anything-but": "x"}]}, other="y")  # absent never matches a value test


def test_string_arrays_match_any_element_and_binary_is_not_compared() -> None:
    assert on_attributes({"k": ["b"]}, k=["a", "b"])
    assert not on_attributes({"k": ["c"]}, k=["a", "b"])
    assert not on_attributes({"k": ["Zm9v"]}, k=b"Zm9v")


def test_every_key_must_match_and_or_branches() -> None:
    policy = {"a": ["1"], "$or": [{"b": ["x"]}, {"c": [{"prefix": "y"}]}]}
    assert on_attributes(policy, a="1", b="x")
    assert on_attributes(policy, a="1", c="yes")
    assert not on_attributes(policy, a="1", c="no")
    assert not on_attributes(policy, a="2", b="x")


def test_body_scope_nests_and_reads_json_objects_only() -> None:
    policy = {"order": {"kind": ["book"], "price": [{"numeric": [">", 10]}]}, "flag": [True], "none": [None]}
    body = {"order": {"kind": "book", "price": 11}, "flag": True, "none": None}
    assert on_body(policy, body)
    assert not on_body(policy, {**body, "flag": "true"})
    assert not on_body(policy, {**body, "order": {"kind": "book"}})
    assert not on_body({"a": ["b"]}, "not json")
    assert not on_body({"a": ["b"]}, ["b"])
    assert on_body({"tags": ["x"]}, {"tags": ["y", "x"]})
    assert on_body({"$or": [{"a": {"b": ["1"]}}, {"c": ["2"]}]}, {"c": "2"})


@pytest.mark.parametrize(("policy", "scope", "message"), [
    ("{", "MessageAttributes", "failed to parse JSON."),
    ("[]", "MessageAttributes", "Filter policy must be a JSON object"),
    ('{"a": "b"}', "MessageAttributes", '"a" must be an object or an array'),
    ('{"a": []}', "MessageAttributes", "Empty arrays are not allowed"),
    ('{"a": [{"wildcard": "*"}]}', "MessageAttributes", "Unrecognized match type wildcard"),
    ('{"a": {"b": ["c"]}}', "MessageAttributes",
     "Filter policy scope MessageAttributes does not support nested filter policy"),
    (json.dumps({k: ["v"] for k in "abcdef"}), "MessageAttributes", "Filter policy can not have more than 5 keys"),
    (json.dumps({k: list(range(6)) for k in "abc"}), "MessageAttributes", "Filter policy is too complex"),
    ('{"a": [{"numeric": ["!", 1]}]}', "MessageAttributes", "Unrecognized numeric range operator: !"),
    ('{"a": [{"exists": "yes"}]}', "MessageAttributes", "exists match pattern must be either true or false."),
])
def test_invalid_policies(policy: str, scope: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        FilterPolicy.parse(policy, scope)
    assert str(caught.value) == message
