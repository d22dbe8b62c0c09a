"""SNS's errors (contract 1.1): 400 InvalidParameter, 404 NotFound, ParameterValueInvalid, batch codes."""

from __future__ import annotations

from lambdalite.services.http import AwsError


def invalid(detail: str) -> AwsError:
    """`Invalid parameter: <detail>`."""
    return AwsError(400, "InvalidParameter", f"Invalid parameter: {detail}", type_="Sender")


def value_invalid(message: str) -> AwsError:
    return AwsError(400, "ParameterValueInvalid", message, type_="Sender")


def topic_missing() -> AwsError:
    return AwsError(404, "NotFound", "Topic does not exist", type_="Sender")


def subscription_missing() -> AwsError:
    return AwsError(404, "NotFound", "Subscription does not exist", type_="Sender")


def batch(code: str, message: str) -> AwsError:
    return AwsError(400, code, message, type_="Sender")


def unsupported(action: str) -> AwsError:
    return AwsError(400, "InvalidAction", f"{action or '(none)'} is not supported by lambdalite.", type_="Sender")
