"""The store's errors: `Fault`s that carry the AWS code a service answers with by default.

Services catch them where the message needs the request's words (a function's ARN, a bus's name) and
re-raise in their own wording; any one that escapes still reaches the client in AWS's envelope.
"""

from __future__ import annotations

from lambdalite.faults import Fault


class StoreFault(Fault):
    """Base of every error a backend raises on purpose (not a database failure)."""

    status = 400
    code = "ValidationException"

    def __init__(self, message: str = "") -> None:
        super().__init__(type(self).status, type(self).code, message or self.__doc__ or self.code)


class Missing(StoreFault):
    """The resource (function, version, alias, queue) does not exist."""

    status = 404
    code = "ResourceNotFoundException"


class AlreadyExists(StoreFault):
    """A resource of that name exists already."""

    status = 409
    code = "ResourceConflictException"


class BusMissing(StoreFault):
    """The event bus does not exist."""

    code = "ResourceNotFoundException"


class RuleMissing(StoreFault):
    """The rule does not exist on that bus."""

    code = "ResourceNotFoundException"


class InUse(StoreFault):
    """The bus still has rules, or the rule still has targets."""

    code = "ValidationException"


class TooManyTargets(StoreFault):
    """The rule would have more targets than AWS allows."""

    code = "LimitExceededException"


class LimitExceeded(StoreFault):
    """The change would pass an account limit (reserved concurrency)."""

    code = "InvalidParameterValueException"


class StoreUnavailable(Fault):
    """The store's database cannot be reached (PostgreSQL down or unreachable): the request is answered
    500 ServiceException and not done (no 202 for an event that is not committed); requests work again
    once the database is back. `detail` says why, for logs and the start-up line."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(500, "ServiceException", "The service is unavailable: its database cannot be reached.",
                         type_="Service")
        self.detail = detail
