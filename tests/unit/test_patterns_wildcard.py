"""Wildcard matching in linear time and AWS's wildcard complexity limit (issue 14, finding 1)."""

from __future__ import annotations

import random
import re
import time

import orjson
import pytest

from lambdalite.patterns import MAX_WILDCARDS_PER_FIELD, InvalidPatternError, compile_pattern, wildcard_test

# Each of these took a backtracking regex minutes to seconds on a 200-character value.
REDOS_VALUE = "a" * 200


def _timed(fn: object, *args: object) -> tuple[object, float]:
    started = time.perf_counter()
    result = fn(*args)  # type: ignore[operator]
    return result, time.perf_counter() - started


def test_many_wildcards_against_a_long_value_answer_at_once() -> None:
    test = wildcard_test("*a*a*a*a*a*a*a*a*c")
    result, elapsed_s = _timed(test, REDOS_VALUE)
    assert result is False
    assert elapsed_s < 1.0  # a guard, not a speed claim: backtracking took far longer
    assert test(REDOS_VALUE + "c")
    assert not test("a" * 200_000)


def test_a_rule_within_the_limit_matches_a_long_value_at_once() -> None:
    pattern = compile_pattern(orjson.dumps({"detail": {"v": [{"wildcard": "*a*a*a*a*a*c"}]}}))
    result, elapsed_s = _timed(pattern.matches, {"detail": {"v": REDOS_VALUE}})
    assert result is False
    assert elapsed_s < 1.0
    assert pattern.matches({"detail": {"v": REDOS_VALUE + "c"}})
    anything_but = compile_pattern(orjson.dumps({"detail": {"v": [{"anything-but": {"wildcard": "*a*a*a*a*a*c"}}]}}))
    result, elapsed_s = _timed(anything_but.matches, {"detail": {"v": REDOS_VALUE}})
    assert result is True
    assert elapsed_s < 1.0


def _reference(pattern: str, value: str) -> bool:
    """The old regex translation, used on short values only (where backtracking is harmless)."""
    parts = [".*" if ch == "*" else re.escape(ch) for ch in pattern]
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


def test_segment_matching_agrees_with_a_regex_on_random_cases() -> None:
    rng = random.Random(14)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab*") for _ in range(rng.randint(0, 7)))
        if "**" in pattern:
            continue
        value = "".join(rng.choice("ab") for _ in range(rng.randint(0, 9)))
        assert wildcard_test(pattern)(value) == _reference(pattern, value), (pattern, value)


def test_overlapping_prefix_and_suffix_do_not_match() -> None:
    assert not wildcard_test("ab*ba")("aba")
    assert wildcard_test("ab*ba")("abba")
    assert wildcard_test("a*\\**b")("a*b")
    assert not wildcard_test("a*\\**b")("ab")


def _pattern(*wildcards: object) -> bytes:
    return orjson.dumps({"detail": {"path": [{"wildcard": w} for w in wildcards]}})


def test_too_many_wildcards_in_one_field_are_refused_with_aws_reason() -> None:
    with pytest.raises(InvalidPatternError) as info:
        compile_pattern(_pattern("*a*a*a*a*a*a*a*a*c"))
    assert str(info.value) == ("Event pattern is not valid. Reason: Rule is too complex - try using fewer "
                               "wildcard characters or fewer repeating character sequences after a wildcard character")
    with pytest.raises(InvalidPatternError, match="Rule is too complex"):  # alternatives of one field add up
        compile_pattern(_pattern("*:stack/a/*", "*:stack/b/*", "*:stack/c/*", "*:stack/d/*"))
    with pytest.raises(InvalidPatternError, match="Rule is too complex"):
        compile_pattern(orjson.dumps({"detail": {"p": [{"wildcard": "*x*"},
                                                       {"anything-but": {"wildcard": ["*a*", "*b*", "*c*"]}}]}}))


def test_the_limit_is_per_field_and_escaped_stars_do_not_count() -> None:
    assert MAX_WILDCARDS_PER_FIELD == 6
    compile_pattern(_pattern("*:stack/a/*", "*:stack/b/*", "*:stack/c/*"))
    compile_pattern(orjson.dumps({"detail": {"p": [{"wildcard": "*a*a*a*"}], "q": [{"wildcard": "*a*a*a*"}]}}))
    compile_pattern(_pattern("\\*\\*\\*\\*\\*\\*\\*\\*" + "*a*"))


def test_stored_patterns_past_the_limit_still_route() -> None:
    """The limit holds new rules; a rule stored before it existed keeps matching (routing compiles it
    without the limit, and matching stays linear)."""
    text = '{"detail": {"v": [{"wildcard": "*a*a*a*a*a*a*a*c"}]}}'
    with pytest.raises(InvalidPatternError):
        compile_pattern(text)
    stored = compile_pattern(text, limit_complexity=False)
    assert stored.matches({"detail": {"v": "xaaaaaaaac"}})
    assert not stored.matches({"detail": {"v": "a" * 200}})
