"""EventBridge event patterns: validate and compile a pattern once, then match events fast.

Pure (no I/O). Semantics follow AWS's "Content filtering in Amazon EventBridge event patterns": a pattern
object mirrors the event; a leaf is a non-empty list of alternatives; an event array matches when any of
its elements does; `exists` looks at leaf values only (an object or an empty array is not a leaf value),
and a missing parent makes every field below it missing. Error messages reuse AWS's wording
("Event pattern is not valid. Reason: ...").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

_MISSING: Any = object()
ValueTest = Callable[[Any], bool]
_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")
# Matching recurses once per pattern level; a bound keeps a stored rule from exhausting the stack on
# every event of its bus (PutRule's 4096 characters allow about 680 levels).
MAX_PATTERN_DEPTH = 100
# AWS rejects a rule whose wildcards are "too complex" (InvalidEventPatternException) without publishing the
# measure. Ours: the `*` characters of one field's wildcard alternatives (anything-but's included) together.
# Observed on AWS: six in one field were accepted, eight refused. Matching is linear either way; the limit
# keeps lambdalite from accepting rules that AWS would refuse.
MAX_WILDCARDS_PER_FIELD = 6
TOO_COMPLEX = ("Rule is too complex - try using fewer wildcard characters or fewer repeating character "
               "sequences after a wildcard character")


class InvalidPatternError(ValueError):
    """The pattern is not a valid EventBridge event pattern; str() is AWS's message."""

    def __init__(self, reason: str):
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason


# ---- value helpers ---------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaf_values(value: Any) -> list[Any]:
    """The leaf values of one event field: arrays are flattened, objects are not leaves.

    Iterative, so an event with arrays nested a thousand deep cannot exhaust the stack.
    """
    if value is _MISSING or isinstance(value, dict):
        return []
    if not isinstance(value, list):
        return [value]
    out: list[Any] = []
    stack: list[Any] = [iter(value)]
    while stack:
        item = next(stack[-1], _MISSING)
        if item is _MISSING:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        elif not isinstance(item, dict):
            out.append(item)
    return out


# ---- compiled nodes --------------------------------------------------------------------------------


class _Leaf:
    """Alternatives for one field: any test matching any leaf value, or `exists: false` with none."""

    __slots__ = ("tests", "when_absent")

    def __init__(self, tests: list[ValueTest], when_absent: bool):
        self.tests = tests
        self.when_absent = when_absent

    def matches(self, value: Any) -> bool:
        values = _leaf_values(value)
        if not values:
            return self.when_absent
        return any(test(v) for v in values for test in self.tests)


class _Object:
    """All fields must match (AND); each `$or` needs at least one of its branches."""

    __slots__ = ("fields", "ors")

    def __init__(self, fields: list[tuple[str, _Leaf | _Object]], ors: list[list[_Object]]):
        self.fields = fields
        self.ors = ors

    def matches(self, value: Any) -> bool:
        if isinstance(value, list):
            items = [v for v in value if isinstance(v, dict)]
            if items:
                return any(self._matches_one(v) for v in items)
            return self._matches_one(_MISSING)
        return self._matches_one(value)

    def _matches_one(self, value: Any) -> bool:
        is_dict = isinstance(value, dict)
        for key, child in self.fields:
            sub = value.get(key, _MISSING) if is_dict else _MISSING
            if not child.matches(sub):
                return False
        return all(any(branch._matches_one(value) for branch in branches) for branches in self.ors)


class EventPattern:
    """A compiled pattern. `matches(event)` takes the event as a parsed JSON object."""

    __slots__ = ("_root", "source")

    def __init__(self, root: _Object, source: str):
        self._root = root
        self.source = source

    def matches(self, event: dict[str, Any]) -> bool:
        return self._root._matches_one(event)


# ---- compiling -------------------------------------------------------------------------------------


def compile_pattern(pattern: str | bytes, *, limit_complexity: bool = True) -> EventPattern:
    """Parse and validate a pattern (JSON text); raise InvalidPatternError with AWS's reason.

    `limit_complexity=False` for patterns stored before the wildcard limit existed: routing must keep
    matching them (matching is linear whatever the limit), only new rules are held to it."""
    return _compile_cached(pattern if isinstance(pattern, str) else pattern.decode(), limit_complexity)


@lru_cache(maxsize=4096)
def _compile_cached(text: str, limit_complexity: bool) -> EventPattern:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidPatternError(f"Unparseable JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidPatternError("Filter is not an object")
    return EventPattern(_compile_object(parsed, 1, limit_complexity), text)


def _compile_object(obj: dict[str, Any], depth: int = 1, limited: bool = True) -> _Object:
    if not obj:
        raise InvalidPatternError("Empty objects are not allowed")
    if depth > MAX_PATTERN_DEPTH:
        raise InvalidPatternError(f"Filter is nested deeper than {MAX_PATTERN_DEPTH} levels")
    fields: list[tuple[str, _Leaf | _Object]] = []
    ors: list[list[_Object]] = []
    for key, value in obj.items():
        if key == "$or":
            ors.append(_compile_or(value, depth, limited))
        elif isinstance(value, dict):
            fields.append((key, _compile_object(value, depth + 1, limited)))
        elif isinstance(value, list):
            fields.append((key, _compile_leaf(value, limited)))
        else:
            raise InvalidPatternError(f'"{key}" must be an object or an array')
    return _Object(fields, ors)


def _compile_or(value: Any, depth: int, limited: bool) -> list[_Object]:
    if not isinstance(value, list):
        raise InvalidPatternError("It must be an Array followed with $or.")
    branches: list[_Object] = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidPatternError("Only JSON object is allowed in array of $or relationship.")
        branches.append(_compile_object(item, depth + 1, limited))
    if len(branches) < 2:
        raise InvalidPatternError("There must have at least 2 Objects in $or relationship.")
    return branches


def _compile_leaf(values: list[Any], limited: bool = True) -> _Leaf:
    if not values:
        raise InvalidPatternError("Empty arrays are not allowed")
    tests: list[ValueTest] = []
    when_absent = False
    for value in values:
        if isinstance(value, dict):
            test = _compile_match(value)
            if test is None:  # exists: false
                when_absent = True
            else:
                tests.append(test)
        elif isinstance(value, list):
            raise InvalidPatternError("Match value must be String, number, true, false, or null")
        else:
            tests.append(_exact(value))
    if limited and sum(_wildcard_stars(v) for v in values if isinstance(v, dict)) > MAX_WILDCARDS_PER_FIELD:
        raise InvalidPatternError(TOO_COMPLEX)
    return _Leaf(tests, when_absent)


def _wildcard_stars(expr: dict[str, Any]) -> int:
    """The unescaped `*` in one validated match expression's wildcard pattern(s); 0 for other operators."""
    arg = expr.get("wildcard")
    inner = expr.get("anything-but")
    if isinstance(inner, dict):
        arg = inner.get("wildcard")
    texts = arg if isinstance(arg, list) else [arg]
    return sum(len(_wildcard_segments(t)) - 1 for t in texts if isinstance(t, str))


def _exact(expected: Any) -> ValueTest:
    if isinstance(expected, str):
        return lambda v: v == expected and isinstance(v, str)
    if isinstance(expected, bool) or expected is None:
        return lambda v: v is expected
    return lambda v: _is_number(v) and v == expected


def _compile_match(expr: dict[str, Any]) -> ValueTest | None:
    """One `{operator: argument}` alternative; None stands for `exists: false`."""
    if not expr:
        raise InvalidPatternError("Match expression name not found")
    if len(expr) > 1:
        raise InvalidPatternError("Only one key allowed in match expression")
    ((name, arg),) = expr.items()
    compiler = _OPERATORS.get(name)
    if compiler is None:
        raise InvalidPatternError(f"Unrecognized match type {name}")
    return compiler(arg)


# ---- operators -------------------------------------------------------------------------------------


def _string_arg(arg: Any, what: str) -> str:
    if not isinstance(arg, str):
        raise InvalidPatternError(f"{what} match pattern must be a string")
    return arg


def _affix(arg: Any, what: str, test: Callable[[str, str], bool]) -> ValueTest:
    """prefix/suffix: `test` is str.startswith or str.endswith; {"equals-ignore-case": ...} folds case."""
    if isinstance(arg, dict) and set(arg) == {"equals-ignore-case"}:
        folded = _string_arg(arg["equals-ignore-case"], what).lower()
        return lambda v: isinstance(v, str) and test(v.lower(), folded)
    text = _string_arg(arg, what)
    return lambda v: isinstance(v, str) and test(v, text)


def _prefix(arg: Any) -> ValueTest:
    return _affix(arg, "prefix", str.startswith)


def _suffix(arg: Any) -> ValueTest:
    return _affix(arg, "suffix", str.endswith)


def _equals_ignore_case(arg: Any) -> ValueTest:
    folded = _string_arg(arg, "equals-ignore-case").lower()
    return lambda v: isinstance(v, str) and v.lower() == folded


def _wildcard_segments(text: str) -> list[str]:
    """Split a wildcard pattern at its unescaped `*`: the literal runs between stars.

    `\\*` is a literal star and `\\\\` a literal backslash; any other escape, or two stars in a row, is
    AWS's validation error. A pattern without a star gives one segment.
    """
    segments: list[str] = []
    current: list[str] = []
    after_star = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in ("*", "\\"):
                raise InvalidPatternError(f"Invalid escape character at pos {i}")
            current.append(nxt)
            after_star = False
            i += 2
            continue
        if ch == "*":
            if after_star:
                raise InvalidPatternError(f"Consecutive wildcard characters at pos {i}")
            segments.append("".join(current))
            current = []
            after_star = True
        else:
            current.append(ch)
            after_star = False
        i += 1
    segments.append("".join(current))
    return segments


def _segments_match(segments: list[str], value: str) -> bool:
    """Whether `value` is the segments joined by any runs of characters, in linear time.

    The first segment must be a prefix and the last a suffix; the middle ones are taken greedily at
    their leftmost place after the previous one. Leftmost is always safe because `*` absorbs whatever
    lies between, so there is no backtracking (a regex such as `.*a.*a.*c` backtracks polynomially).
    """
    if len(segments) == 1:
        return value == segments[0]
    head, tail = segments[0], segments[-1]
    end = len(value) - len(tail)
    if end < len(head) or not value.startswith(head) or not value.endswith(tail):
        return False
    pos = len(head)
    for middle in segments[1:-1]:
        found = value.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return True


def wildcard_test(text: str) -> ValueTest:
    """A value test for one `wildcard` pattern (validated; no complexity limit: see _check_complexity)."""
    segments = _wildcard_segments(text)
    return lambda v: isinstance(v, str) and _segments_match(segments, v)


def _wildcard(arg: Any) -> ValueTest:
    return wildcard_test(_string_arg(arg, "wildcard"))


def _exists(arg: Any) -> ValueTest | None:
    if arg is True:
        return lambda v: True
    if arg is False:
        return None
    raise InvalidPatternError("exists match pattern must be either true or false.")


def _cidr(arg: Any) -> ValueTest:
    text = _string_arg(arg, "cidr")
    if text.count("/") != 1:
        raise InvalidPatternError("Malformed CIDR, one '/' required")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidPatternError(f"Nonstandard IP address: {text.split('/')[0]}") from None

    def test(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v) in network
        except ValueError:
            return False

    return test


def _number_arg(arg: Any, op: str) -> float:
    if not _is_number(arg):
        raise InvalidPatternError(f"Value of {'equals' if op == '=' else op} must be numeric")
    return float(arg)


def _numeric(arg: Any) -> ValueTest:
    """`[op, n]` or `[">"|">=", low, "<"|"<=", high]`."""
    if not isinstance(arg, list):
        raise InvalidPatternError("Value of numeric must be an array.")
    if not arg or not isinstance(arg[0], str):
        raise InvalidPatternError(f"Invalid member in numeric match: {orjson.dumps(arg[0]).decode() if arg else ']'}")
    op = arg[0]
    if op not in _NUMERIC_OPS:
        raise InvalidPatternError(f"Unrecognized numeric range operator: {op}")
    if len(arg) < 2:
        raise InvalidPatternError(f"Value of {'equals' if op == '=' else op} must be numeric")
    first = _number_arg(arg[1], op)
    if op in ("=", "<", "<=") and len(arg) > 2:
        raise InvalidPatternError("Too many elements in numeric expression")
    if op == "=":
        return lambda v: _is_number(v) and v == first
    if op == "<":
        return lambda v: _is_number(v) and v < first
    if op == "<=":
        return lambda v: _is_number(v) and v <= first
    if len(arg) == 2:
        return (lambda v: _is_number(v) and v > first) if op == ">" else (lambda v: _is_number(v) and v >= first)
    return _numeric_range(arg, first, low_open=op == ">")


def _numeric_range(arg: list[Any], low: float, *, low_open: bool) -> ValueTest:
    top_op = arg[2]
    if not isinstance(top_op, str):
        raise InvalidPatternError(f"Bad value in numeric range: {orjson.dumps(top_op).decode()}")
    if top_op not in ("<", "<="):
        raise InvalidPatternError(f"Bad numeric range operator: {top_op}")
    if len(arg) < 4:
        raise InvalidPatternError(f"Value of {top_op} must be numeric")
    high = _number_arg(arg[3], top_op)
    if len(arg) > 4:
        raise InvalidPatternError("Too many terms in numeric range expression")
    if low >= high:
        raise InvalidPatternError("Bottom must be less than top")
    high_open = top_op == "<"

    def test(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = v > low if low_open else v >= low
        below = v < high if high_open else v <= high
        return bool(above and below)

    return test


def _strings(arg: Any, what: str) -> list[str]:
    """A string or a non-empty list of strings (anything-but's inner operators)."""
    items = arg if isinstance(arg, list) else [arg]
    if not items or not all(isinstance(i, str) for i in items):
        raise InvalidPatternError(f"Inside anything-but/{what} list, number|start|null|boolean is not supported.")
    return items


def _anything_but_object(arg: dict[str, Any]) -> ValueTest:
    if len(arg) != 1:
        raise InvalidPatternError("Only one key allowed in match expression" if arg else
                                  "Anything-But expression name not found")
    ((name, inner),) = arg.items()
    if name in ("prefix", "suffix"):
        if not isinstance(inner, str):
            raise InvalidPatternError("prefix/suffix match pattern must be a string")
        if not inner:
            raise InvalidPatternError("Null prefix/suffix not allowed")
        if name == "prefix":
            return lambda v: not (isinstance(v, str) and v.startswith(inner))
        return lambda v: not (isinstance(v, str) and v.endswith(inner))
    if name == "equals-ignore-case":
        folded = frozenset(s.lower() for s in _strings(inner, "equals-ignore-case"))
        return lambda v: not (isinstance(v, str) and v.lower() in folded)
    if name == "wildcard":
        tests = [wildcard_test(s) for s in _strings(inner, "wildcard")]
        return lambda v: not any(test(v) for test in tests)
    raise InvalidPatternError(f"Unsupported anything-but pattern: {name}")


def _anything_but(arg: Any) -> ValueTest:
    if isinstance(arg, dict):
        return _anything_but_object(arg)
    if isinstance(arg, str) or _is_number(arg):
        values = [arg]
    elif isinstance(arg, list):
        values = arg
        if any(not isinstance(v, str) and not _is_number(v) for v in values):
            raise InvalidPatternError("Inside anything but list, start|null|boolean is not supported.")
        kinds = {isinstance(v, str) for v in values}
        if len(kinds) != 1:
            raise InvalidPatternError(
                "Inside anything but list, either all values are number or string, mixed type is not supported"
            )
    else:
        raise InvalidPatternError("Value of anything-but must be an array or single string/number value.")
    strings = frozenset(v for v in values if isinstance(v, str))
    numbers = frozenset(float(v) for v in values if not isinstance(v, str))

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return v not in strings
        if _is_number(v):
            return float(v) not in numbers
        return True

    return test


_OPERATORS: dict[str, Callable[[Any], ValueTest | None]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": _exists,
    "cidr": _cidr,
}


def matches(pattern: str | bytes, event: dict[str, Any]) -> bool:
    """Convenience: compile (cached) and match once."""
    return compile_pattern(pattern).matches(event)
