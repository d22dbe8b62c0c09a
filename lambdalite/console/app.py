"""The console's routes under /console, as an `extra` of the services' App (server.py wires it).

Read-only unless console auth is configured (`LAMBDALITE_CONSOLE_TOKEN`, or the API's credentials as
`AKID:SECRET`): then signing in (a cookie holding a digest of the token) enables redrive. With API
credentials configured, reading needs signing in too (the console must not bypass the API's auth).
Anything unexpected is logged and answered with a plain error page: never a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from lambdalite import metrics
from lambdalite.clock import now_ms
from lambdalite.console import pages, redrive, stats
from lambdalite.console.commands import parse_time_ms
from lambdalite.credentials import configured
from lambdalite.faults import Fault
from lambdalite.model.history import EventQuery, Status
from lambdalite.node import Node
from lambdalite.services.http import Request, Response

log = logging.getLogger(__name__)

PREFIX = "/console"
COOKIE = "lambdalite_console"
_EVENT = re.compile(r"^/console/events/([^/]+)$")
_REDRIVE = re.compile(r"^/console/events/([^/]+)/redrive$")
_STATIC = re.compile(r"^/console/static/([A-Za-z0-9._-]+)$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".LICENSE": "text/plain; charset=utf-8"}
_HTML = "text/html; charset=utf-8"
PAGE_SIZE = 50


def _digest(token: str) -> str:
    return hashlib.sha256(b"lambdalite-console:" + token.encode()).hexdigest()


class Console:
    def __init__(self, node: Node):
        self.node = node
        settings = node.settings
        tokens = [settings.console_token] if settings.console_token else []
        self.api_auth = bool(configured(settings))
        tokens += [f"{c.access_key}:{c.secret_key}" for c in configured(settings).values()]
        self.digests = [_digest(t) for t in tokens]
        self.interval_s = settings.console_stream_interval_s

    # ---- entry ------------------------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response | None:
        """The App's extra hook: None for anything that is not the console's."""
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return None
        try:
            return await self._route(request)
        except Fault as err:
            return self._page(request, "error", pages.error_box(err.message), status=err.status)
        except Exception:
            log.exception("console: %s %s failed", request.method, request.path)
            return self._page(request, "error", pages.error_box("The console could not answer (see the server log)."),
                              status=500)

    def _signed_in(self, request: Request) -> bool:
        cookie = request.headers.get("cookie", "")
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and any(hmac.compare_digest(value, d) for d in self.digests):
                return True
        return False

    def _page(self, request: Request, title: str, body: str, status: int = 200,
              headers: list[tuple[str, str]] | None = None) -> Response:
        signed_in = self._signed_in(request)
        html = pages.page(title, body, can_write=signed_in, auth_configured=bool(self.digests), logged_in=signed_in)
        return Response(status, html.encode(), headers or [], _HTML)

    async def _route(self, request: Request) -> Response:
        path, method = request.path.rstrip("/") or PREFIX, request.method
        if match := _STATIC.match(path):
            return _static(match.group(1))
        if path == PREFIX + "/login" and method == "POST":
            return self._login(request)
        if path == PREFIX + "/logout" and method == "POST":
            return Response(303, b"", [("Location", PREFIX), ("Set-Cookie", f"{COOKIE}=; Path=/console; Max-Age=0")], None)
        if self.api_auth and not self._signed_in(request):
            return self._page(request, "sign in", "<p>The API has credentials configured: sign in to see events.</p>",
                              status=401)
        if method == "POST":
            return await self._post(request, path)
        if path == PREFIX:
            queues = await self._queues(self._signed_in(request))
            return self._page(request, "overview", pages.overview(await self._functions(), queues))
        if path == PREFIX + "/fragments/functions":
            return _fragment(await self._functions())
        if path == PREFIX + "/fragments/queues":
            return _fragment(await self._queues(self._signed_in(request)))
        if path == PREFIX + "/stream":
            return Response(200, b"", [("Cache-Control", "no-store")], "text/event-stream", stream=self._rates())
        if path == PREFIX + "/events":
            return await self._events(request)
        if match := _EVENT.match(path):
            return await self._event(request, match.group(1))
        raise Fault(404, "NotFound", f"No console page at {request.path}.")

    # ---- pages ------------------------------------------------------------------------------------------
    async def _functions(self) -> str:
        return pages.functions_fragment(await stats.functions(self.node))

    async def _queues(self, can_write: bool) -> str:
        return pages.queues_fragment(await stats.queues(self.node), can_write)

    async def _events(self, request: Request) -> Response:
        params = {k: v.strip() for k, v in request.query.items() if v.strip()}
        at = now_ms()
        try:
            status = Status(params["status"]) if params.get("status") else None
            query = EventQuery(function=params.get("function"), status=status,
                               since_ms=parse_time_ms(params.get("since"), at),
                               until_ms=parse_time_ms(params.get("until"), at), request_id=params.get("request_id"),
                               before=_cursor(params.get("before")), limit=PAGE_SIZE + 1)
        except ValueError as err:
            raise Fault(400, "BadFilter", f"Bad filter: {err}") from None
        rows = await self.node.store.list_events(query, at)
        results = pages.events_results(rows[:PAGE_SIZE], params, len(rows) > PAGE_SIZE, self._signed_in(request))
        if request.headers.get("hx-request"):
            return _fragment(results)
        return self._page(request, "events", "<h2>Events</h2>" + pages.events_filters(params) + results)

    async def _event(self, request: Request, request_id: str) -> Response:
        detail = await self.node.store.get_event(request_id, now_ms())
        if detail is None:
            raise Fault(404, "NotFound", f"No event {request_id} in the history.")
        message = "Redriven: this is its new run." if request.query.get("redriven") else ""
        return self._page(request, request_id, pages.event_page(detail, self._signed_in(request), message))

    # ---- writes -----------------------------------------------------------------------------------------
    def _login(self, request: Request) -> Response:
        token = dict(parse_qsl(request.body.decode("utf-8", "replace"))).get("token", "")
        digest = _digest(token)
        if not self.digests or not any(hmac.compare_digest(digest, d) for d in self.digests):
            return self._page(request, "sign in", pages.error_box("That token is not the console's."), status=403)
        cookie = f"{COOKIE}={digest}; Path=/console; HttpOnly; SameSite=Strict"
        back = urlsplit(request.headers.get("referer", ""))
        location = back.path + (f"?{back.query}" if back.query else "") if back.path.startswith(PREFIX) else PREFIX
        return Response(303, b"", [("Location", location), ("Set-Cookie", cookie)], None)

    async def _post(self, request: Request, path: str) -> Response:
        if not self._signed_in(request):
            raise Fault(403, "ReadOnly", "The console is read-only: sign in to redrive.")
        if match := _REDRIVE.match(path):
            request_id = await redrive.redrive_event(self.node, match.group(1))
            return Response(200, b"", [("HX-Redirect", f"{PREFIX}/events/{request_id}?redriven=1")], _HTML)
        if path == PREFIX + "/queues/redrive":
            form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
            report = await redrive.redrive_dlq(self.node, form.get("queue", ""), form.get("function", ""))
            return _fragment(f"<p id='redrive-report'>Redriven {len(report.redriven)} message(s) into "
                             f"{pages.e(form.get('function'))}; skipped {len(report.skipped)}.</p>")
        if path == PREFIX + "/redrive":
            function = dict(parse_qsl(request.body.decode("utf-8", "replace"))).get("function") or None
            report = await redrive.redrive_failed(self.node, function)
            return _fragment(f"<p id='redrive-report'>Redriven {len(report.redriven)} event(s); "
                             f"skipped {len(report.skipped)}.</p>")
        raise Fault(404, "NotFound", f"Nothing to post at {path}.")

    # ---- live rates -------------------------------------------------------------------------------------
    async def _rates(self) -> AsyncIterator[bytes]:
        """Every interval: the rates since the last one (accepts of this process; attempts' ends of all)."""
        yield b"retry: 2000\n\n"
        accepted = _accepted_total()
        since = now_ms()
        _, cursor = await self.node.store.event_activity(None)
        while True:
            await asyncio.sleep(self.interval_s)
            at = now_ms()
            activity, cursor = await self.node.store.event_activity(cursor)
            total = _accepted_total()
            span_s = max(0.001, (at - since) / 1000)
            point: dict[str, Any] = {"t": at / 1000, "accepts": round((total - accepted) / span_s, 1)}
            for name in ("successes", "retries", "failures", "drops"):
                point[name] = round(getattr(activity, name) / span_s, 1)
            accepted, since = total, at
            yield b"event: rates\ndata: " + orjson.dumps(point) + b"\n\n"


def _accepted_total() -> float:
    return sum(s.value for m in metrics.ASYNC_RECEIVED.collect() for s in m.samples if s.name.endswith("_total"))


def _cursor(raw: str | None) -> tuple[int, str] | None:
    if not raw:
        return None
    time_ms, _, request_id = raw.partition(":")
    return int(time_ms), request_id


def _fragment(html: str) -> Response:
    return Response(200, html.encode(), [], _HTML)


def _static(name: str) -> Response:
    try:
        data = resources.files("lambdalite.console").joinpath("static", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise Fault(404, "NotFound", f"No static file {name}.") from None
    kind = next((t for suffix, t in _TYPES.items() if name.endswith(suffix)), "application/octet-stream")
    return Response(200, data, [("Cache-Control", "public, max-age=86400")], kind)
