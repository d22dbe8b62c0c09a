"""Helpers for the async-invocation e2e tests: a recording function, its records, stored outcomes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.support.server import shared_file, wait_until
from tests.support.zips import python_zip

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RUNTIME = "python3.11"

# Appends one JSON line per attempt (request id, event, start time, code tag) to $RECORD_PATH, then
# sleeps / fails as the event asks: {"sleep": seconds, "fail": true}.
RECORDER = '''
import json, os, time
TAG = "%s"

def handler(event, context):
    record = {"id": context.aws_request_id, "event": event, "t": time.time(), "tag": TAG,
              "arn": context.invoked_function_arn}
    with open(os.environ["RECORD_PATH"], "a") as f:
        f.write(json.dumps(record) + "\\n")
    if isinstance(event, dict):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise RuntimeError("failing on purpose")
    return {"ok": True, "tag": TAG}
'''


def recorder_zip(tag: str = "v1") -> bytes:
    return python_zip(RECORDER % tag)


def create_recorder(client: Any, name: str, record_path: Path, *, tag: str = "v1", timeout_s: int = 10,
                    **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = client.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": recorder_zip(tag)},
        Timeout=timeout_s,
        Environment={"Variables": {"RECORD_PATH": shared_file(record_path)}},
        **extra,
    )
    return config


def records(path: Path) -> list[dict[str, Any]]:
    """Every complete line the recorder wrote (a line being written is skipped)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def attempts_of(path: Path, request_id: str) -> list[dict[str, Any]]:
    return [r for r in records(path) if r["id"] == request_id]


def outcome(data_dir: Path, request_id: str) -> dict[str, Any] | None:
    """The stored outcome of an async event (the dispatcher's `outcomes` table), read-only."""
    db = data_dir / "lambdalite.db"
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute("SELECT data FROM outcomes WHERE request_id = ?", (request_id,)).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return json.loads(row[0]) if row else None


def wait_outcome(data_dir: Path, request_id: str, timeout_s: float = 60) -> dict[str, Any]:
    result: dict[str, Any] = wait_until(lambda: outcome(data_dir, request_id), timeout_s=timeout_s,
                                        what=f"outcome of {request_id}")
    return result


def event_invoke(client: Any, name: str, payload: dict[str, Any] | bytes, **kw: Any) -> str:
    """An Event invoke; returns the 202's request id."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=body, **kw)
    assert response["StatusCode"] == 202, response
    request_id: str = response["ResponseMetadata"]["RequestId"]
    return request_id
