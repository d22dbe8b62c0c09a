"""SigV4 checking for every service, answered in the calling service's own error envelope.

`App.respond` asks `Authenticator.refuse(request, service)` before a service sees a request (health and
/metrics are answered earlier, unauthenticated). The signature arithmetic is lambdalite/sigv4.py; which
keys exist is lambdalite/credentials.py. Codes and texts per service: docs/decisions.md, "Authentication".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson

from lambdalite.credentials import KeyRing, configured
from lambdalite.services.http import AwsError, Request, Response, new_request_id
from lambdalite.services.sqs import query as sqs_query
from lambdalite.services.sqs.errors import SqsError
from lambdalite.sigv4 import Arrived, Kind, SigV4Error, verify

if TYPE_CHECKING:
    from lambdalite.services.app import Service
    from lambdalite.settings import Settings

log = logging.getLogger(__name__)

# kind -> (HTTP status, code) for Lambda (rest-json behind AWS's front door: 403s, lower-case "message").
LAMBDA_CODES = {
    Kind.MISSING: (403, "MissingAuthenticationTokenException"),
    Kind.INCOMPLETE: (403, "IncompleteSignatureException"),
    Kind.UNKNOWN_KEY: (403, "UnrecognizedClientException"),
    Kind.BAD_SIGNATURE: (403, "InvalidSignatureException"),
    Kind.SKEW: (403, "InvalidSignatureException"),
    Kind.EXPIRED: (403, "InvalidSignatureException"),
}
# EventBridge (JSON 1.1, AWS's coral services answer these with 400, a missing signature with 403).
EVENTS_CODES = {
    Kind.MISSING: (403, "MissingAuthenticationTokenException"),
    Kind.INCOMPLETE: (400, "IncompleteSignatureException"),
    Kind.UNKNOWN_KEY: (400, "UnrecognizedClientException"),
    Kind.BAD_SIGNATURE: (400, "InvalidSignatureException"),
    Kind.SKEW: (400, "InvalidSignatureException"),
    Kind.EXPIRED: (400, "InvalidSignatureException"),
}
# SQS: (status, JSON `__type` shape, query-protocol code that botocore shows, from x-amzn-query-error).
SQS_CODES = {
    Kind.MISSING: (403, "MissingAuthenticationTokenException", "MissingAuthenticationToken"),
    Kind.INCOMPLETE: (400, "IncompleteSignatureException", "IncompleteSignature"),
    Kind.UNKNOWN_KEY: (403, "UnrecognizedClientException", "InvalidClientTokenId"),
    Kind.BAD_SIGNATURE: (403, "InvalidSignatureException", "SignatureDoesNotMatch"),
    Kind.SKEW: (403, "InvalidSignatureException", "SignatureDoesNotMatch"),
    Kind.EXPIRED: (400, "RequestExpiredException", "RequestExpired"),
}
# The query protocol's texts for a request with no signature at all (AWS's common errors).
SQS_MISSING = "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."
_SQS_JSON = "application/x-amz-json-1.0"


class Authenticator:
    """Holds the key ring; one per API process."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator | None:
        """None when no access key is configured: checking is off (serve refuses that off loopback)."""
        keys = configured(settings)
        if not keys:
            return None
        log.info("SigV4 authentication on: %d access key(s) configured", len(keys))
        return cls(KeyRing(keys, settings.data_dir))

    def refuse(self, request: Request, service: Service) -> Response | None:
        """None if `request` is signed by a known key for `service`; else AWS's error for that service."""
        arrived = Arrived(request.method, request.raw_path, request.raw_query, request.headers, request.body)
        try:
            credential = verify(arrived, service.name, self.keys)
        except SigV4Error as err:
            return refusal(err, request, service)
        if credential.role_arn is not None:  # keys minted for a function: it is the caller
            request.function_caller = credential.role_arn
        return None


def refusal(err: SigV4Error, request: Request, service: Service) -> Response:
    request_id = new_request_id()
    if service.name == "sqs":
        status, shape, code = SQS_CODES[err.kind]
        message = SQS_MISSING if err.kind is Kind.MISSING else err.message
        if not request.headers.get("x-amz-target"):  # the query protocol answers in XML
            return sqs_query.error_response(SqsError(code, message, status=status), request_id)
        body = orjson.dumps({"__type": f"com.amazon.coral.service#{shape}", "message": message})
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-query-error", f"{code};Sender")]
        return Response(status, body, headers, _SQS_JSON)
    if service.name == "sns":  # a query-protocol service: the same common errors, in SNS's XML envelope
        status, _, code = SQS_CODES[err.kind]
        return service.error_response(AwsError(status, code, SQS_MISSING if err.kind is Kind.MISSING
                                               else err.message), request_id)
    table = EVENTS_CODES if service.name in ("events", "logs") else LAMBDA_CODES  # logs: JSON 1.1 too
    status, code = table[err.kind]
    return service.error_response(AwsError(status, code, err.message, type_=None, message_key="message"), request_id)
