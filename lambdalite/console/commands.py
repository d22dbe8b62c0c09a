"""`lambdalite events [FUNCTION]`, `lambdalite events show REQUEST_ID`, `lambdalite redrive` and
`lambdalite logs FUNCTION [--follow]`: the event history, redrive and function logs from a shell, on the
same store as a running server (reads open it read-only): on PostgreSQL, any node shows every node's."""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import UTC, datetime
from typing import Any, BinaryIO, TextIO

import orjson

from lambdalite.clock import now_ms
from lambdalite.console import render
from lambdalite.console.redrive import RedriveRefused, redrive_dlq, redrive_event, redrive_failed
from lambdalite.model.history import EventQuery, Status
from lambdalite.node import Node
from lambdalite.runtime.pool import EnvironmentPool
from lambdalite.settings import Settings
from lambdalite.store import open_store, store_exists
from lambdalite.store.protocol import Store

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def print_logs(settings: Settings, function: str, follow: bool) -> int:
    """Print a function's logs, oldest first (and keep printing new text with follow); 1 when it has none."""
    store = open_store(settings, read_only=True)
    try:
        return asyncio.run(_print_logs(store, function, follow, sys.stdout.buffer))
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


async def _print_logs(store: Store, function: str, follow: bool, out: BinaryIO) -> int:
    if function not in {logs.function for logs in await store.list_function_logs()}:
        sys.stderr.write(f"lambdalite: no logs for function {function!r}\n")
        return 1
    try:
        async for text in store.tail_function_logs(function, follow=follow):
            out.write(text)
            out.flush()
    except BrokenPipeError:
        return 0
    return 0


def parse_time_ms(text: str | None, at_ms: int) -> int | None:
    """'15m' / '2h' / '1d' ago, epoch milliseconds, or an ISO 8601 time (UTC unless it says otherwise)."""
    if not text:
        return None
    if match := _DURATION.fullmatch(text.strip()):
        return at_ms - int(float(match.group(1)) * _UNIT_S[match.group(2)] * 1000)
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cannot read the time {text!r} (try 15m, 2h, 1d or 2026-01-31T12:00)") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def _dump(data: Any, out: TextIO) -> None:
    out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _missing(settings: Settings, out: TextIO) -> int:
    out.write(f"no lambdalite data at {settings.data_dir}\n")
    return 1


def print_events(settings: Settings, function: str | None, status: str | None, since: str | None,
                 until: str | None, request_id: str | None, limit: int, as_json: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not store_exists(settings):
        return _missing(settings, out)
    at = now_ms()
    try:
        since_ms, until_ms = parse_time_ms(since, at), parse_time_ms(until, at)
    except ValueError as err:
        sys.stderr.write(f"lambdalite: {err}\n")
        return 2
    query = EventQuery(function=function, status=Status(status) if status else None, since_ms=since_ms,
                       until_ms=until_ms, request_id=request_id, limit=limit)
    store = open_store(settings, read_only=True)
    try:
        rows = asyncio.run(store.list_events(query, at))
    finally:
        store.close()
    if as_json:
        _dump([render.row_json(r) for r in rows], out)
    else:
        render.rows_table(rows, out)
    return 0


def print_event(settings: Settings, request_id: str, as_json: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not store_exists(settings):
        return _missing(settings, out)
    store = open_store(settings, read_only=True)
    try:
        detail = asyncio.run(store.get_event(request_id, now_ms()))
    finally:
        store.close()
    if detail is None:
        sys.stderr.write(f"lambdalite: no event {request_id} in the history\n")
        return 1
    if as_json:
        _dump(render.detail_json(detail), out)
    else:
        render.detail_text(detail, out)
    return 0


async def _redrive(settings: Settings, request_id: str | None, function: str | None, dlq: str | None,
                   since_ms: int | None, until_ms: int | None) -> dict[str, object]:
    store = open_store(settings)
    node = Node(settings=settings, store=store, pool=EnvironmentPool(settings, store))
    try:
        if dlq:
            if not function:
                raise RedriveRefused("--dlq needs --function: the function whose queue gets the events", 400)
            queue_arn = dlq if dlq.startswith("arn:") else (
                f"arn:aws:sqs:{settings.default_region}:{settings.account_id}:{dlq}")
            return (await redrive_dlq(node, queue_arn, function)).to_json()
        if request_id:
            return {"redriven": [await redrive_event(node, request_id)], "skipped": {}, "count": 1}
        return (await redrive_failed(node, function, since_ms, until_ms)).to_json()
    finally:
        node.store.close()


def run_redrive(settings: Settings, request_id: str | None, function: str | None, dlq: str | None,
                since: str | None, until: str | None, as_json: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not store_exists(settings):
        return _missing(settings, out)
    if not (request_id or function or dlq):
        sys.stderr.write("lambdalite: redrive what? a REQUEST_ID, --function F (its failed events) or --dlq Q\n")
        return 2
    at = now_ms()
    try:
        since_ms, until_ms = parse_time_ms(since, at), parse_time_ms(until, at)
        result = asyncio.run(_redrive(settings, request_id, function, dlq, since_ms, until_ms))
    except ValueError as err:
        sys.stderr.write(f"lambdalite: {err}\n")
        return 2
    except RedriveRefused as err:
        sys.stderr.write(f"lambdalite: {err.message}\n")
        return 1
    if as_json:
        _dump(result, out)
    else:
        out.write(f"redriven {result['count']} event(s)\n")
        for rid in result["redriven"]:  # type: ignore[attr-defined]
            out.write(f"  {rid}\n")
        for what, why in result["skipped"].items():  # type: ignore[attr-defined]
            out.write(f"  skipped {what}: {why}\n")
    return 0
