"""Pure parsing and building of Lambda function names, ARNs and qualifiers (contract section 1).

No I/O and no service imports: the API, the dispatcher and the destinations all use it. Errors are
`NameError_` values that carry AWS's error code and message; the HTTP layer turns them into AwsError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambdalite.faults import Fault

LATEST = "$LATEST"
MAX_NAME_LENGTH = 64
MAX_ARN_LENGTH = 140  # unqualified forms (CreateFunction and the management operations)
MAX_QUALIFIED_LENGTH = 256  # Invoke and the operations that take a qualified name

# botocore's patterns (lambda/2015-03-31), shown verbatim in ValidationException messages.
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
QUALIFIER_PATTERN = r"(|[a-zA-Z0-9$_-]+)"
ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"

_FULL = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:(?P<region>(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d):"
    r"(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9-_]+)(:(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?"
)
_PARTIAL = re.compile(
    r"(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9-_]+)(:(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?"
)
_BARE = re.compile(r"(?P<name>[a-zA-Z0-9-_]+)(:(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?")
_QUALIFIER = re.compile(r"[a-zA-Z0-9$_-]+")
# The OnSuccess/OnFailure Destination pattern of Lambda's API model (botocore does not enforce it).
DESTINATION_PATTERN = r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
_DESTINATION = re.compile(DESTINATION_PATTERN)
_VERSION = re.compile(r"[0-9]+")
_BARE_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_ALIAS = re.compile(ALIAS_PATTERN)


class NameError_(Fault):
    """A function name or qualifier AWS would refuse: `code` is the AWS error name."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(status, code, message)


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """What a FunctionName parameter names: a function, maybe a qualifier, maybe a region/account."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


def _validation(value: str, member: str, constraint: str) -> NameError_:
    return NameError_(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}",
    )


def parse_function_name(raw: str, *, allow_qualifier: bool = True) -> FunctionRef:
    """Parse `name`, `name:qualifier`, `ACCOUNT:function:name[:q]` or a full ARN.

    Raises NameError_ (ValidationException) when the value does not fit botocore's pattern or lengths.
    """
    max_length = MAX_QUALIFIED_LENGTH if allow_qualifier else MAX_ARN_LENGTH
    if not raw:
        raise _validation(raw, "functionName", "Member must have length greater than or equal to 1")
    if len(raw) > max_length:
        raise _validation(raw, "functionName", f"Member must have length less than or equal to {max_length}")
    match = _BARE.fullmatch(raw) or _FULL.fullmatch(raw) or _PARTIAL.fullmatch(raw)
    if match is None or (not allow_qualifier and match.group("qualifier")):
        raise _validation(
            raw, "functionName", f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        )
    groups = match.groupdict()
    name = groups["name"]
    if len(name) > MAX_NAME_LENGTH:
        raise _validation(
            name, "functionName", f"Member must have length less than or equal to {MAX_NAME_LENGTH}"
        )
    return FunctionRef(name, groups.get("qualifier"), groups.get("region"), groups.get("account"))


def validate_qualifier(qualifier: str) -> str:
    """A `?Qualifier=` value: botocore's pattern and length 1..128."""
    if len(qualifier) > 128:
        raise _validation(qualifier, "qualifier", "Member must have length less than or equal to 128")
    if not _QUALIFIER.fullmatch(qualifier):
        raise _validation(
            qualifier, "qualifier", f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"
        )
    return qualifier


def merge_qualifier(ref: FunctionRef, query_qualifier: str | None) -> str | None:
    """The qualifier to use: from the name or `?Qualifier=`; they must agree when both are given."""
    if query_qualifier is not None and query_qualifier != "":
        validate_qualifier(query_qualifier)
        if ref.qualifier is not None and ref.qualifier != query_qualifier:
            raise NameError_(
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified qualifier.",
            )
        return query_qualifier
    return ref.qualifier


def check_scope(ref: FunctionRef, region: str, account: str) -> None:
    """A function ARN from another region or account cannot be reached from this endpoint."""
    if ref.region is not None and ref.region != region:
        raise NameError_(
            "ResourceNotFoundException",
            f"Functions from '{ref.region}' are not reachable in this region ('{region}')",
            404,
        )
    if ref.account is not None and ref.account != account:
        raise NameError_(
            "AccessDeniedException",
            f"The function's account {ref.account} is not this account ({account}).",
            403,
        )


def is_version(qualifier: str) -> bool:
    return bool(_VERSION.fullmatch(qualifier))


def is_alias_name(name: str) -> bool:
    return bool(_ALIAS.fullmatch(name)) and len(name) <= 128


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def split_function_arn(arn: str) -> FunctionRef | None:
    """A full function ARN's parts, or None when `arn` is not one (e.g. a destination of another service)."""
    match = _FULL.fullmatch(arn)
    if match is None:
        return None
    return FunctionRef(
        match.group("name"), match.group("qualifier"), match.group("region"), match.group("account")
    )


# ---- any service's ARN (destinations, targets) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def last_name(self) -> str:
        """The resource's name: `queue`, `bus`, `topic` from `...:queue`, `event-bus/bus`, `...:topic`."""
        return self.resource.rsplit("/", 1)[-1]


def parse(arn: str) -> Arn | None:
    """`arn:partition:service:region:account:resource`, or None when `arn` is not of that form."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def service_of(arn: str) -> str:
    """The service an ARN names ("?" when it is not an ARN)."""
    parsed = parse(arn)
    return parsed.service if parsed is not None else "?"


def matches_destination_pattern(arn: str) -> bool:
    return _DESTINATION.fullmatch(arn) is not None


def function_of(arn: Arn) -> tuple[str, str | None] | None:
    """(name, qualifier) of a Lambda function ARN's resource `function:name[:qualifier]`."""
    if arn.service != "lambda":
        return None
    parts = arn.resource.split(":")
    if len(parts) not in (2, 3) or parts[0] != "function" or not _BARE_NAME.fullmatch(parts[1]):
        return None
    return parts[1], (parts[2] if len(parts) == 3 and parts[2] else None)


def bare_function_name(name_or_arn: str) -> str:
    """`f`, `f:q`, `ACCOUNT:function:f`, `arn:...:function:f[:q]` -> `f`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]
