"""One app for every AWS service lambdalite speaks, routed per request.

Routing: `X-Amz-Target: AmazonSQS.*` -> sqs, `AWSEvents.*` -> events, `Logs_20140328.*` -> logs;
otherwise the SigV4 credential scope's service name; an unsigned query-protocol request naming SNS's
version or actions -> sns, any other form post -> sqs; otherwise Lambda's rest-json paths. The HTTP
server (httpserver.py) hands each parsed request to `respond`; no framework sits in between, to keep
the accept path short.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from lambdalite.services import function_access
from lambdalite.services.http import MAX_BODY_BYTES, AwsError, Request, Response, new_request_id
from lambdalite.services.sns import is_sns_form

if TYPE_CHECKING:
    from lambdalite.services.auth import Authenticator

log = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_PRESIGNED_CREDENTIAL = re.compile(r"X-Amz-Credential=[^&%]+(?:/|%2F)\d{8}(?:/|%2F)([^&/%]+)(?:/|%2F)([^&/%]+)(?:/|%2F)aws4_request")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class Service(Protocol):
    name: str

    async def handle(self, request: Request) -> Response: ...

    def error_response(self, error: AwsError, request_id: str) -> Response: ...


Extra = Callable[[Request], Awaitable[Response | None]]


def scope_of(headers: dict[str, str], query: str = "") -> tuple[str | None, str | None]:
    """(region, service) from a SigV4 Authorization header, or a presigned URL's X-Amz-Credential."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match is None and "X-Amz-Credential=" in query:
        match = _PRESIGNED_CREDENTIAL.search(query)
    if not match:
        return None, None
    region = match.group(1)
    # Anything else there would end up in stored ARNs: keep only what looks like a region.
    return (region if _REGION.fullmatch(region) else None), match.group(2)


class App:
    """ASGI entry point. `services` maps a service name to its handler; `extra` sees requests first."""

    def __init__(self, services: Mapping[str, Service], default_region: str, extra: list[Extra] | None = None,
                 auth: Authenticator | None = None, functions_data_plane_only: bool = True,
                 admit: Callable[[Request, Service], Response | None] | None = None):
        self.services = services
        self.default_region = default_region
        self.extra = extra or []
        self.auth = auth  # None: requests are not authenticated (no credentials configured)
        self.functions_data_plane_only = functions_data_plane_only  # services/function_access.py
        self.admit = admit  # a refusal (e.g. services/disk_floor.py) once the caller may call the service

    def pick(self, request: Request, signed_service: str | None) -> Service:
        target = request.headers.get("x-amz-target", "")
        if target.startswith("AmazonSQS") and "sqs" in self.services:
            return self.services["sqs"]
        if target.startswith("AWSEvents") and "events" in self.services:
            return self.services["events"]
        if target.startswith("Logs_20140328") and "logs" in self.services:
            return self.services["logs"]
        if signed_service is not None and signed_service in self.services:
            return self.services[signed_service]
        if "sns" in self.services and is_sns_form(request):  # unsigned: SNS's version or actions, else SQS's
            return self.services["sns"]
        if "sqs" in self.services and request.method == "POST" and (
            request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        ):
            return self.services["sqs"]
        return self.services["lambda"]

    def request(self, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes) -> Request:
        """A Request from what the wire gave (headers already lower-cased)."""
        region, signed_service = scope_of(headers, query)
        return Request(
            method=method,
            path=unquote(raw_path) if "%" in raw_path else raw_path,
            raw_path=raw_path,
            query=_parse_query(query),
            headers=headers,
            body=body,
            region=region or self.default_region,
            host=headers.get("host", "localhost"),
            signed_service=signed_service,
            raw_query=query,
        )

    async def respond(self, request: Request, too_large: bool = False) -> Response:
        service = self.pick(request, request.signed_service)
        try:
            for extra in self.extra:
                answer = await extra(request)
                if answer is not None:
                    return answer
            if too_large:
                raise AwsError(413, "RequestEntityTooLargeException", f"Request must be smaller than {MAX_BODY_BYTES} bytes")
            if self.auth is not None and (refused := self.auth.refuse(request, service)) is not None:
                return refused
            if (request.function_caller is not None and self.functions_data_plane_only
                    and (refused := function_access.refuse(request, service)) is not None):
                return refused
            if self.admit is not None and (refused := self.admit(request, service)) is not None:
                return refused
            return await service.handle(request)
        except AwsError as err:
            return service.error_response(err, new_request_id())
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            fault = AwsError(500, "ServiceException", "An internal error occurred.", type_="Service")
            return service.error_response(fault, new_request_id())


def _parse_query(raw: str) -> dict[str, str]:
    if not raw:
        return {}
    out: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out[unquote(key.replace("+", " "))] = unquote(value.replace("+", " "))
    return out
