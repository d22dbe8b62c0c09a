"""Event history as text and JSON (the CLI's `--json` and the console's API share these shapes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from lambdalite.model.history import AttemptRecord, DeliveryRecord, EventDetail, EventRow


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def row_json(r: EventRow) -> dict[str, Any]:
    return {"requestId": r.request_id, "function": r.function, "status": r.status.value, "time": iso(r.time_ms),
            "timeMs": r.time_ms, "attempts": r.attempts, "condition": r.condition}


def attempt_json(a: AttemptRecord) -> dict[str, Any]:
    return {"run": a.run, "number": a.number, "started": iso(a.started_ms), "ended": iso(a.ended_ms),
            "durationMs": a.duration_ms, "result": a.result.value, "errorType": a.error_type,
            "errorMessage": a.error_message, "decision": a.decision, "retryAt": iso(a.retry_at_ms)}


def delivery_json(d: DeliveryRecord) -> dict[str, Any]:
    return {"side": d.side, "target": d.target_arn, "delivered": d.delivered, "attempts": d.attempts,
            "at": iso(d.at_ms), "error": d.error}


def payload_text(payload: bytes | None) -> str | None:
    return None if payload is None else payload.decode("utf-8", "replace")


def detail_json(d: EventDetail) -> dict[str, Any]:
    outcome = d.outcome
    return {
        "requestId": d.request_id,
        "function": d.function,
        "status": d.status.value,
        "accepted": iso(d.accepted_ms),
        "nextRun": iso(d.due_ms) if d.status.live else None,
        "condition": outcome.condition.value if outcome else None,
        "ended": iso(outcome.ended_ms) if outcome else None,
        "payload": payload_text(d.payload),
        "response": payload_text(outcome.response_payload) if outcome else None,
        "attempts": [attempt_json(a) for a in d.attempts],
        "deliveries": [delivery_json(x) for x in d.deliveries],
        "redrivable": d.redrivable,
    }


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


def rows_table(rows: list[EventRow], out: TextIO) -> None:
    if not rows:
        out.write("(no events)\n")
        return
    table = [("REQUEST_ID", "FUNCTION", "STATUS", "ATTEMPTS", "TIME", "CONDITION")]
    table += [(r.request_id, r.function, r.status.value, str(r.attempts), iso(r.time_ms) or "", r.condition or "")
              for r in rows]
    _table(table, out)


def detail_text(d: EventDetail, out: TextIO) -> None:
    data = detail_json(d)
    for key in ("requestId", "function", "status", "condition", "accepted", "ended", "nextRun"):
        if data[key] is not None:
            out.write(f"{key}: {data[key]}\n")
    out.write(f"payload: {data['payload']}\n")
    if data["response"] is not None:
        out.write(f"response: {data['response']}\n")
    if d.attempts:
        out.write("attempts:\n")
        table = [("RUN", "#", "STARTED", "MS", "RESULT", "ERROR", "DECISION")]
        table += [(str(a.run), str(a.number), iso(a.started_ms) or "", str(a.duration_ms), a.result.value,
                   " ".join(x for x in (a.error_type, a.error_message) if x), a.decision) for a in d.attempts]
        _table(table, out)
    for x in d.deliveries:
        state = "delivered" if x.delivered else f"gave up ({x.error})"
        out.write(f"delivery {x.side} -> {x.target_arn}: {state} after {x.attempts} attempt(s)\n")
