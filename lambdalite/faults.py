"""Pure: an error AWS would answer, raised below the HTTP layer (name parsing, code upload).

The HTTP layer turns one into an AwsError (`services/lambda_api/common.aws`).
"""

from __future__ import annotations


class Fault(ValueError):
    """A request AWS would refuse: `status` and `code` are AWS's HTTP status and error name."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
