"""Pure: the one error tree. A `Fault` is an error AWS would answer, with its HTTP status, error code,
message and envelope details; it may be raised at any layer (name parsing, code upload, the store, a
service) and the HTTP layer renders it in the answering service's envelope (`services/app.py`).

`services.http.AwsError` is the same class: services raise it by that name; everything below services
raises `Fault` or one of its subclasses (the store's are in `store/errors.py`).
"""

from __future__ import annotations

from typing import Any

# Error names whose AWS body uses lower-case "message" (contract section 2).
_LOWER_MESSAGE = frozenset(
    {
        "InvalidParameterValueException",
        "InvalidRequestContentException",
        "RequestTooLargeException",
        "RequestEntityTooLargeException",
        "ResourceConflictException",
        "TooManyRequestsException",
        "UnsupportedMediaTypeException",
        "ResourceInUseException",
        "CodeStorageExceededException",
        "PreconditionFailedException",
    }
)


class Fault(Exception):
    """A request AWS would refuse: `status` and `code` are AWS's HTTP status and error name.

    `extra` adds members to a rest-json body, `headers` to the response; `type_` is the rest-json body's
    "Type" ("User", "Service", or None to leave it out); `message_key` overrides the message member's name.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
        type_: str | None = "User",
        message_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or []
        self.type_ = type_
        self.message_key = message_key

    def rest_json_body(self) -> dict[str, Any]:
        """Body for rest-json services (Lambda)."""
        body: dict[str, Any] = {}
        if self.code != "ValidationException" and self.type_ is not None:
            body["Type"] = self.type_
        key = self.message_key or ("message" if self.code in _LOWER_MESSAGE else "Message")
        body.update(self.extra)
        body[key] = self.message
        return body


def validation_error(value: Any, member: str, constraint: str) -> Fault:
    """AWS's ValidationException for one failed member constraint."""
    return Fault(
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}",
        type_=None,
    )
