"""SNS subscription filter policies (contract 1.3): validation with AWS's messages, and matching.

Pure. A policy is expanded into branches (`$or` at any level multiplies them): each branch maps a key
path to its list of conditions; a message matches when some branch has every path matching (AND), a
path matching when any of its conditions does (OR). Scope `MessageAttributes` looks at the published
attributes (String, String.Array: any element, Number; Binary is never compared); scope `MessageBody`
at the JSON object body, nesting allowed.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Any

import orjson

MAX_KEYS = 5
MAX_COMBINATIONS = 150
_OPERATORS = frozenset({"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"})
_NUMERIC_OPS = frozenset({"=", "<", "<=", ">", ">="})
_MISSING = object()

Path = tuple[str, ...]
Branch = dict[Path, list[Any]]


class PolicyError(ValueError):
    """An invalid policy; the text after `FilterPolicy: ` in AWS's message."""


@dataclass(frozen=True, slots=True)
class FilterPolicy:
    branches: tuple[Branch, ...]
    body_scope: bool

    @classmethod
    def parse(cls, text: str, scope: str = "MessageAttributes") -> FilterPolicy:
        """Validate and compile; raises PolicyError with AWS's message."""
        try:
            policy = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise PolicyError("failed to parse JSON.") from None
        if not isinstance(policy, dict):
            raise PolicyError("Filter policy must be a JSON object")
        body_scope = scope == "MessageBody"
        branches = _expand(policy, (), body_scope)
        for branch in branches:
            if len(branch) > MAX_KEYS:
                raise PolicyError(f"Filter policy can not have more than {MAX_KEYS} keys")
            if math.prod(len(conditions) for conditions in branch.values()) > MAX_COMBINATIONS:
                raise PolicyError("Filter policy is too complex")
        return cls(tuple(branches), body_scope)

    def matches(self, attributes: dict[str, dict[str, str]], body: str) -> bool:
        """Whether a message (its SNS-form attributes {name: {Type, Value}}, its body) passes."""
        if self.body_scope:
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                return False
            if not isinstance(document, dict):
                return False
            return any(all(_path_matches(conds, _body_values(document, path)) for path, conds in branch.items())
                       for branch in self.branches)
        return any(all(_path_matches(conds, _attribute_values(attributes, path[0])) for path, conds in branch.items())
                   for branch in self.branches)


def _expand(node: dict[str, Any], prefix: Path, body_scope: bool) -> list[Branch]:
    branches: list[Branch] = [{}]
    for key, value in node.items():
        if key == "$or":
            alternatives = _or_alternatives(value, prefix, body_scope)
        elif isinstance(value, dict):
            if not body_scope:
                raise PolicyError("Filter policy scope MessageAttributes does not support nested filter policy")
            alternatives = _expand(value, (*prefix, key), body_scope)
        elif isinstance(value, list):
            alternatives = [{(*prefix, key): _conditions(value)}]
        else:
            raise PolicyError(f'"{key}" must be an object or an array')
        branches = [{**mine, **theirs} for mine in branches for theirs in alternatives]
    return branches


def _or_alternatives(value: Any, prefix: Path, body_scope: bool) -> list[Branch]:
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
        raise PolicyError('"$or" must be an array of at least two objects')
    return [branch for option in value for branch in _expand(option, prefix, body_scope)]


def _conditions(values: list[Any]) -> list[Any]:
    if not values:
        raise PolicyError("Empty arrays are not allowed")
    for value in values:
        if isinstance(value, dict):
            _check_operator(value)
        elif isinstance(value, list):
            raise PolicyError("Match value must be String, number, true, false, or null")
        elif isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > 1e9:
            raise PolicyError("Numeric value must be between -1.0E9 and 1.0E9 inclusive")
    return values


def _check_operator(condition: dict[str, Any]) -> None:
    if len(condition) != 1:
        raise PolicyError("Only one key allowed in match expression")
    (name, operand), = condition.items()
    if name not in _OPERATORS:
        raise PolicyError(f"Unrecognized match type {name}")
    if name in ("prefix", "suffix", "equals-ignore-case") and not isinstance(operand, str):
        raise PolicyError(f"{name} match pattern must be a string")
    if name == "exists" and not isinstance(operand, bool):
        raise PolicyError("exists match pattern must be either true or false.")
    if name == "numeric":
        _check_numeric(operand)
    if name == "anything-but":
        _check_anything_but(operand)
    if name == "cidr":
        try:
            ipaddress.ip_network(str(operand), strict=False)
        except ValueError:
            raise PolicyError("Malformed CIDR, one '/' required") from None


def _check_numeric(operand: Any) -> None:
    if not isinstance(operand, list) or not operand or len(operand) % 2:
        raise PolicyError("Value of numeric must be an array.")
    for op, number in zip(operand[::2], operand[1::2], strict=True):
        if op not in _NUMERIC_OPS:
            raise PolicyError(f"Unrecognized numeric range operator: {op}")
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise PolicyError(f"Value of {op} must be numeric")


def _check_anything_but(operand: Any) -> None:
    if isinstance(operand, dict):
        if set(operand) != {"prefix"} or not isinstance(operand["prefix"], str):
            raise PolicyError("Unsupported anything-but pattern: " + ",".join(operand))
    elif isinstance(operand, list) and not operand:
        raise PolicyError("Empty arrays are not allowed")


# ---- matching ----------------------------------------------------------------------------------------


def _attribute_values(attributes: dict[str, dict[str, str]], name: str) -> list[Any] | object:
    """The comparable values of one attribute; _MISSING when absent; [] for a Binary one."""
    attribute = attributes.get(name)
    if attribute is None:
        return _MISSING
    kind, value = attribute.get("Type", "String"), attribute.get("Value", "")
    if kind.startswith("Binary"):
        return []
    if kind.startswith("Number"):
        try:
            return [float(value)]
        except ValueError:
            return []
    if kind.startswith("String.Array"):
        try:
            items = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [value]
        return items if isinstance(items, list) else [items]
    return [value]


def _body_values(document: dict[str, Any], path: Path) -> list[Any] | object:
    node: Any = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node if isinstance(node, list) else [node]


def _path_matches(conditions: list[Any], values: list[Any] | object) -> bool:
    if values is _MISSING:
        return any(isinstance(c, dict) and c.get("exists") is False for c in conditions)
    assert isinstance(values, list)
    return any(_condition_matches(c, v) for c in conditions for v in values) or any(
        isinstance(c, dict) and c.get("exists") is True for c in conditions)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(condition: Any, value: Any) -> bool:
    if _is_number(condition):
        return _is_number(value) and float(condition) == float(value)
    if condition is None or isinstance(condition, bool):
        return value is condition
    return isinstance(value, str) and value == condition


def _condition_matches(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    (name, operand), = condition.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == operand.lower()
    if name == "numeric":
        return _is_number(value) and _in_range(operand, float(value))
    if name == "anything-but":
        return _anything_but(operand, value)
    if name == "cidr":
        return _in_cidr(operand, value)
    return False  # exists: decided per path


def _in_range(operand: list[Any], number: float) -> bool:
    checks = {"=": number.__eq__, "<": number.__lt__, "<=": number.__le__, ">": number.__gt__, ">=": number.__ge__}
    return all(checks[op](float(bound)) for op, bound in zip(operand[::2], operand[1::2], strict=True))


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        return isinstance(value, str) and not value.startswith(operand["prefix"])
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_equal(e, value) for e in excluded)


def _in_cidr(operand: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
    except ValueError:
        return False
