"""Function names, ARNs and qualifiers as AWS parses them (contract section 1)."""

from __future__ import annotations

import pytest

from lambdalite.arn import (
    FunctionRef,
    NameError_,
    check_scope,
    function_arn,
    is_alias_name,
    is_version,
    merge_qualifier,
    parse_function_name,
    split_function_arn,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("f", FunctionRef("f")),
        ("my-fn_1", FunctionRef("my-fn_1")),
        ("f:$LATEST", FunctionRef("f", "$LATEST")),
        ("f:3", FunctionRef("f", "3")),
        ("f:live", FunctionRef("f", "live")),
        ("000000000000:function:f", FunctionRef("f", None, None, "000000000000")),
        ("000000000000:function:f:live", FunctionRef("f", "live", None, "000000000000")),
        (
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            FunctionRef("f", None, "us-east-1", "000000000000"),
        ),
        (
            "arn:aws:lambda:eu-west-2:123456789012:function:f:7",
            FunctionRef("f", "7", "eu-west-2", "123456789012"),
        ),
    ],
)
def test_parses_every_form(raw: str, expected: FunctionRef) -> None:
    assert parse_function_name(raw) == expected


def test_bare_name_longer_than_64_is_a_validation_error() -> None:
    with pytest.raises(NameError_) as err:
        parse_function_name("a" * 65)
    assert err.value.code == "ValidationException"
    assert err.value.message == (
        f"1 validation error detected: Value '{'a' * 65}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    assert parse_function_name("a" * 64).name == "a" * 64


@pytest.mark.parametrize("raw", ["bad name", "f/x", "f:a:b:c", "arn:aws:s3:::bucket", "f!"])
def test_pattern_violations(raw: str) -> None:
    with pytest.raises(NameError_) as err:
        parse_function_name(raw)
    assert err.value.code == "ValidationException"
    assert "Member must satisfy regular expression pattern" in err.value.message


def test_qualifier_refused_where_not_allowed() -> None:
    with pytest.raises(NameError_):
        parse_function_name("f:live", allow_qualifier=False)


def test_empty_and_overlong() -> None:
    with pytest.raises(NameError_):
        parse_function_name("")
    with pytest.raises(NameError_) as err:
        parse_function_name("x" * 300)
    assert "less than or equal to 256" in err.value.message


def test_merge_qualifier() -> None:
    assert merge_qualifier(FunctionRef("f", "1"), None) == "1"
    assert merge_qualifier(FunctionRef("f"), "live") == "live"
    assert merge_qualifier(FunctionRef("f", "live"), "live") == "live"
    assert merge_qualifier(FunctionRef("f"), "") is None
    with pytest.raises(NameError_) as err:
        merge_qualifier(FunctionRef("f", "1"), "2")
    assert err.value.code == "InvalidParameterValueException"
    assert (
        err.value.message
        == "The derived qualifier from the function name does not match the specified qualifier."
    )
    with pytest.raises(NameError_) as err:
        merge_qualifier(FunctionRef("f"), "bad/q")
    assert err.value.code == "ValidationException"


def test_scope() -> None:
    check_scope(FunctionRef("f", None, "us-east-1", "000000000000"), "us-east-1", "000000000000")
    with pytest.raises(NameError_) as err:
        check_scope(FunctionRef("f", None, "eu-west-1"), "us-east-1", "000000000000")
    assert err.value.status == 404


def test_build_and_split() -> None:
    arn = function_arn("us-east-1", "000000000000", "f", "$LATEST")
    assert arn == "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
    assert split_function_arn(arn) == FunctionRef("f", "$LATEST", "us-east-1", "000000000000")
    assert split_function_arn("arn:aws:sqs:us-east-1:000000000000:q") is None
    assert is_version("12") and not is_version("$LATEST")
    assert is_alias_name("live") and not is_alias_name("12")
