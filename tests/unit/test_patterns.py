"""The event-pattern matcher, operator by operator, with AWS's documented examples."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from lambdalite.patterns import InvalidPatternError, compile_pattern, matches

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def m(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return matches(orjson.dumps(pattern), event)


def detail(**fields: Any) -> dict[str, Any]:
    return {**EC2_EVENT, "detail": fields}


# ---- exact values ---------------------------------------------------------------------------------


def test_aws_example_source_and_detail_type_and_state() -> None:
    pattern = {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["terminated"]},
    }
    assert m(pattern, EC2_EVENT)
    assert not m({**pattern, "detail": {"state": ["running"]}}, EC2_EVENT)


def test_alternatives_in_a_leaf_are_or() -> None:
    assert m({"detail": {"state": ["running", "terminated"]}}, EC2_EVENT)
    assert not m({"detail": {"state": ["running", "stopped"]}}, EC2_EVENT)


def test_fields_are_and() -> None:
    assert not m({"source": ["aws.ec2"], "region": ["eu-west-1"]}, EC2_EVENT)


def test_missing_field_does_not_match_a_value() -> None:
    assert not m({"detail": {"nope": ["x"]}}, EC2_EVENT)
    assert not m({"nothere": {"deeper": ["x"]}}, EC2_EVENT)


def test_event_array_matches_if_any_element_matches() -> None:
    pattern = {"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}
    event = {**EC2_EVENT, "resources": ["other", EC2_EVENT["resources"][0]]}
    assert m(pattern, event)
    assert not m({"resources": ["nope"]}, event)


def test_nested_arrays_flatten() -> None:
    assert m({"detail": {"tags": ["b"]}}, detail(tags=[["a"], ["b"]]))


def test_numbers_booleans_null_and_empty_string() -> None:
    event = detail(count=5, ratio=0.5, flag=True, off=False, nothing=None, empty="")
    assert m({"detail": {"count": [5]}}, event)
    assert m({"detail": {"count": [5.0]}}, event)
    assert m({"detail": {"ratio": [0.5]}}, event)
    assert not m({"detail": {"count": ["5"]}}, event)
    assert not m({"detail": {"count": [6]}}, event)
    assert m({"detail": {"flag": [True]}}, event)
    assert not m({"detail": {"flag": [False]}}, event)
    assert m({"detail": {"off": [False]}}, event)
    assert not m({"detail": {"flag": [1]}}, event)
    assert not m({"detail": {"count": [True]}}, detail(count=1))
    assert m({"detail": {"nothing": [None]}}, event)
    assert not m({"detail": {"missing": [None]}}, event)
    assert not m({"detail": {"empty": [None]}}, event)
    assert m({"detail": {"empty": [""]}}, event)
    assert not m({"detail": {"nothing": [""]}}, event)


def test_string_value_does_not_match_number_pattern() -> None:
    assert not m({"detail": {"count": [5]}}, detail(count="5"))


def test_pattern_object_against_event_leaf_or_array_of_objects() -> None:
    assert not m({"detail": {"state": {"name": ["x"]}}}, EC2_EVENT)
    event = detail(items=[{"type": "a", "size": 1}, {"type": "b", "size": 2}])
    assert m({"detail": {"items": {"type": ["b"]}}}, event)
    # Fields of one array element must match within the same element.
    assert m({"detail": {"items": {"type": ["b"], "size": [2]}}}, event)
    assert not m({"detail": {"items": {"type": ["b"], "size": [1]}}}, event)


def test_leaf_pattern_against_event_object_does_not_match() -> None:
    assert not m({"detail": ["x"]}, EC2_EVENT)


# ---- prefix / suffix / equals-ignore-case / wildcard ----------------------------------------------


def test_prefix_aws_example() -> None:
    assert m({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT)
    assert not m({"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT)
    assert not m({"detail": {"n": [{"prefix": "1"}]}}, detail(n=12))


def test_prefix_equals_ignore_case() -> None:
    pattern = {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}
    assert m(pattern, detail(service="eventbridge"))
    assert m(pattern, detail(service="EVENTBRIDGE"))
    assert not m(pattern, detail(service="Lambda"))


def test_suffix_and_suffix_ignore_case() -> None:
    assert m({"detail": {"FileName": [{"suffix": ".png"}]}}, detail(FileName="image.png"))
    assert not m({"detail": {"FileName": [{"suffix": ".png"}]}}, detail(FileName="image.PNG"))
    pattern = {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}
    assert m(pattern, detail(FileName="image.PNG"))
    assert not m(pattern, detail(FileName="image.jpg"))


def test_equals_ignore_case_aws_example() -> None:
    pattern = {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}
    assert m(pattern, EC2_EVENT)
    assert not m({"detail-type": [{"equals-ignore-case": "other"}]}, EC2_EVENT)


def test_wildcard_aws_examples() -> None:
    pattern = {"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}}
    assert m(pattern, detail(EventBusArn="arn:aws:events:us-east-1:123456789012:event-bus/default"))
    assert not m(pattern, detail(EventBusArn="arn:aws:events:us-west-2:123456789012:event-bus/default"))
    assert m({"detail": {"path": [{"wildcard": "dir/*.png"}]}}, detail(path="dir/a/b.png"))
    assert m({"detail": {"path": [{"wildcard": "*"}]}}, detail(path=""))
    assert not m({"detail": {"path": [{"wildcard": "*"}]}}, detail(path=3))


def test_wildcard_escapes() -> None:
    assert m({"detail": {"v": [{"wildcard": "a\\*b"}]}}, detail(v="a*b"))
    assert not m({"detail": {"v": [{"wildcard": "a\\*b"}]}}, detail(v="axxb"))
    assert m({"detail": {"v": [{"wildcard": "a\\\\b"}]}}, detail(v="a\\b"))
    assert m({"detail": {"v": [{"wildcard": "a.c"}]}}, detail(v="a.c"))
    assert not m({"detail": {"v": [{"wildcard": "a.c"}]}}, detail(v="abc"))


# ---- anything-but ---------------------------------------------------------------------------------


def test_anything_but_string_and_number() -> None:
    assert m({"detail": {"state": [{"anything-but": "initializing"}]}}, detail(state="running"))
    assert not m({"detail": {"state": [{"anything-but": "initializing"}]}}, detail(state="initializing"))
    assert m({"detail": {"x-limit": [{"anything-but": 123}]}}, detail(**{"x-limit": 124}))
    assert not m({"detail": {"x-limit": [{"anything-but": 123}]}}, detail(**{"x-limit": 123.0}))


def test_anything_but_lists() -> None:
    pattern = {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}
    assert m(pattern, detail(state="running"))
    assert not m(pattern, detail(state="stopped"))
    numbers = {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}
    assert m(numbers, detail(**{"x-limit": 150}))
    assert not m(numbers, detail(**{"x-limit": 200}))


def test_anything_but_needs_a_value() -> None:
    assert not m({"detail": {"state": [{"anything-but": "x"}]}}, detail())


def test_anything_but_prefix_suffix() -> None:
    pattern = {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}
    assert m(pattern, detail(state="running"))
    assert not m(pattern, detail(state="initializing"))
    suffix = {"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}
    assert m(suffix, detail(FileName="a.png"))
    assert not m(suffix, detail(FileName="a.txt"))


def test_anything_but_equals_ignore_case() -> None:
    pattern = {"detail": {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}}
    assert not m(pattern, detail(state="INITIALIZING"))
    assert m(pattern, detail(state="running"))
    many = {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OVERLOADED"]}}]}}
    assert not m(many, detail(state="overloaded"))
    assert m(many, detail(state="running"))


def test_anything_but_wildcard() -> None:
    pattern = {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}
    assert m(pattern, detail(FilePath="/usr/bin/x"))
    assert not m(pattern, detail(FilePath="/usr/lib/x"))
    many = {"detail": {"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]}}
    assert not m(many, detail(FilePath="/usr/bin/x"))
    assert m(many, detail(FilePath="/usr/share/x"))


def test_anything_but_with_event_array_matches_if_any_element_differs() -> None:
    assert m({"detail": {"s": [{"anything-but": "a"}]}}, detail(s=["a", "b"]))
    assert not m({"detail": {"s": [{"anything-but": "a"}]}}, detail(s=["a", "a"]))


# ---- numeric --------------------------------------------------------------------------------------


def test_numeric_aws_example() -> None:
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    }
    assert m(pattern, detail(**{"c-count": 5, "d-count": 7, "x-limit": 301.8}))
    assert not m(pattern, detail(**{"c-count": 0, "d-count": 7, "x-limit": 301.8}))
    assert not m(pattern, detail(**{"c-count": 6, "d-count": 7, "x-limit": 301.8}))
    assert not m(pattern, detail(**{"c-count": 5, "d-count": 10, "x-limit": 301.8}))
    assert not m(pattern, detail(**{"c-count": 5, "d-count": 7, "x-limit": 301}))


@pytest.mark.parametrize(
    ("expr", "inside", "outside"),
    [
        ([">", 10], [10.5, 11], [10, 9]),
        ([">=", 10], [10, 11], [9.99]),
        (["<", 10], [9, -3], [10, 11]),
        (["<=", 10], [10, 9], [10.01]),
        (["=", 10], [10, 10.0], [10.1]),
        ([">=", 1, "<", 2], [1, 1.5], [2, 0.9]),
        ([">", 1, "<=", 2], [2, 1.01], [1, 2.1]),
    ],
)
def test_numeric_operators(expr: list[Any], inside: list[float], outside: list[float]) -> None:
    pattern = {"detail": {"n": [{"numeric": expr}]}}
    for value in inside:
        assert m(pattern, detail(n=value)), value
    for value in outside:
        assert not m(pattern, detail(n=value)), value


def test_numeric_ignores_non_numbers() -> None:
    pattern = {"detail": {"n": [{"numeric": [">", 0]}]}}
    assert not m(pattern, detail(n="5"))
    assert not m(pattern, detail(n=True))
    assert not m(pattern, detail())


# ---- exists ---------------------------------------------------------------------------------------


def test_exists() -> None:
    assert m({"detail": {"state": [{"exists": True}]}}, EC2_EVENT)
    assert not m({"detail": {"state": [{"exists": False}]}}, EC2_EVENT)
    assert m({"detail": {"other": [{"exists": False}]}}, EC2_EVENT)
    assert not m({"detail": {"other": [{"exists": True}]}}, EC2_EVENT)


def test_exists_only_sees_leaves() -> None:
    event = detail(obj={"a": 1}, empty=[], nothing=None)
    assert not m({"detail": {"obj": [{"exists": True}]}}, event)
    assert m({"detail": {"obj": [{"exists": False}]}}, event)
    assert not m({"detail": {"empty": [{"exists": True}]}}, event)
    assert m({"detail": {"nothing": [{"exists": True}]}}, event)


def test_exists_false_below_a_missing_parent() -> None:
    assert m({"nothere": {"state": [{"exists": False}]}}, EC2_EVENT)


def test_exists_false_or_value() -> None:
    pattern = {"detail": {"state": [{"exists": False}, "terminated"]}}
    assert m(pattern, EC2_EVENT)
    assert m(pattern, detail())
    assert not m(pattern, detail(state="running"))


# ---- cidr -----------------------------------------------------------------------------------------


def test_cidr() -> None:
    pattern = {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}
    assert m(pattern, detail(sourceIPAddress="10.0.0.255"))
    assert not m(pattern, detail(sourceIPAddress="10.0.1.0"))
    assert not m(pattern, detail(sourceIPAddress="not-an-ip"))
    assert not m(pattern, detail(sourceIPAddress=10))
    v6 = {"detail": {"ip": [{"cidr": "2001:db8::/32"}]}}
    assert m(v6, detail(ip="2001:db8::1"))
    assert not m(v6, detail(ip="2001:db9::1"))


# ---- $or ------------------------------------------------------------------------------------------


def test_or_aws_examples() -> None:
    top = {"$or": [{"source": ["aws.ec2"]}, {"detail-type": ["Other"]}]}
    assert m(top, EC2_EVENT)
    assert m(top, {**EC2_EVENT, "source": "x", "detail-type": "Other"})
    assert not m(top, {**EC2_EVENT, "source": "x"})
    nested = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    }
    assert m(nested, detail(**{"d-count": 3}))
    assert m(nested, detail(**{"x-limit": 301.8}))
    assert not m(nested, detail(**{"c-count": 50, "d-count": 50}))


def test_or_combined_with_and() -> None:
    pattern = {"source": ["aws.ec2"], "$or": [{"region": ["us-west-1"]}, {"account": ["1"]}]}
    assert m(pattern, EC2_EVENT)
    assert not m(pattern, {**EC2_EVENT, "source": "x"})
    assert not m(pattern, {**EC2_EVENT, "region": "eu-west-1"})


# ---- invalid patterns -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("not json", "Unparseable JSON"),
        ('["source"]', "Filter is not an object"),
        ('"x"', "Filter is not an object"),
        ("{}", "Empty objects are not allowed"),
        ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
        ('{"source": 5}', '"source" must be an object or an array'),
        ('{"source": []}', "Empty arrays are not allowed"),
        ('{"detail": {}}', "Empty objects are not allowed"),
        ('{"source": [["a"]]}', "Match value must be String, number, true, false, or null"),
        ('{"source": [{}]}', "Match expression name not found"),
        ('{"source": [{"prefix": "a", "suffix": "b"}]}', "Only one key allowed in match expression"),
        ('{"source": [{"foo": "a"}]}', "Unrecognized match type foo"),
        ('{"source": [{"prefix": 5}]}', "prefix match pattern must be a string"),
        ('{"source": [{"prefix": {"equals-ignore-case": 5}}]}', "prefix match pattern must be a string"),
        ('{"source": [{"suffix": null}]}', "suffix match pattern must be a string"),
        ('{"source": [{"equals-ignore-case": ["a"]}]}', "equals-ignore-case match pattern must be a string"),
        ('{"source": [{"wildcard": 1}]}', "wildcard match pattern must be a string"),
        ('{"source": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 2"),
        ('{"source": [{"wildcard": "a\\\\nb"}]}', "Invalid escape character at pos 1"),
        ('{"source": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
        ('{"source": [{"numeric": 5}]}', "Value of numeric must be an array."),
        ('{"source": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
        ('{"source": [{"numeric": [5]}]}', "Invalid member in numeric match: 5"),
        ('{"source": [{"numeric": ["!=", 5]}]}', "Unrecognized numeric range operator: !="),
        ('{"source": [{"numeric": [">", "5"]}]}', "Value of > must be numeric"),
        ('{"source": [{"numeric": ["=", true]}]}', "Value of equals must be numeric"),
        ('{"source": [{"numeric": ["<", 5, ">", 1]}]}', "Too many elements in numeric expression"),
        ('{"source": [{"numeric": [">", 5, ">", 1]}]}', "Bad numeric range operator: >"),
        ('{"source": [{"numeric": [">", 5, 1]}]}', "Bad value in numeric range: 1"),
        ('{"source": [{"numeric": [">", 5, "<"]}]}', "Value of < must be numeric"),
        ('{"source": [{"numeric": [">", 5, "<", 9, 1]}]}', "Too many terms in numeric range expression"),
        ('{"source": [{"numeric": [">", 9, "<", 5]}]}', "Bottom must be less than top"),
        ('{"source": [{"anything-but": true}]}', "Value of anything-but must be an array or single string/number value."),
        ('{"source": [{"anything-but": ["a", 1]}]}', "mixed type is not supported"),
        ('{"source": [{"anything-but": [null]}]}', "start|null|boolean is not supported"),
        ('{"source": [{"anything-but": {"foo": "a"}}]}', "Unsupported anything-but pattern: foo"),
        ('{"source": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
        ('{"source": [{"anything-but": {"prefix": 1}}]}', "prefix/suffix match pattern must be a string"),
        ('{"source": [{"anything-but": {"equals-ignore-case": 1}}]}', "number|start|null|boolean is not supported"),
        ('{"source": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
        ('{"source": [{"cidr": "10.0.0.300/24"}]}', "Nonstandard IP address: 10.0.0.300"),
        ('{"$or": {"source": ["a"]}}', "It must be an Array followed with $or."),
        ('{"$or": [{"source": ["a"]}]}', "There must have at least 2 Objects in $or relationship."),
        ('{"$or": [{"source": ["a"]}, "b"]}', "Only JSON object is allowed in array of $or relationship."),
    ],
)
def test_invalid_patterns(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidPatternError) as info:
        compile_pattern(pattern)
    assert str(info.value).startswith("Event pattern is not valid. Reason: ")
    assert reason in str(info.value)


def test_compile_once_is_cached() -> None:
    text = '{"source": ["cached.example"]}'
    assert compile_pattern(text) is compile_pattern(text)
