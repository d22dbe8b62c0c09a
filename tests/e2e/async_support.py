"""Helpers for the async-invocation e2e tests: a recording function, its records, stored outcomes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson

from lambdalite.settings import Settings
from lambdalite.store import open_store, store_exists
from tests.support.server import shared_file, store_for, wait_until
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


def outcome(data_dir: Path, request_id: str, store: str | None = None) -> dict[str, Any] | None:
    """The stored outcome of an async event, read through the Store protocol (read-only, beside the running
    servers) on whichever backend the deployment on `data_dir` runs (or on `store`, a URL): a dict of
    `Outcome.to_json`'s fields."""
    settings = Settings(data_dir=data_dir, store=store_for(data_dir) if store is None else store)
    if not store_exists(settings):
        return None
    reader = open_store(settings, read_only=True)
    try:
        found = asyncio.run(reader.get_outcome(request_id))
    finally:
        reader.close()
    if found is None:
        return None
    result: dict[str, Any] = orjson.loads(found.to_json())
    return result


def wait_outcome(data_dir: Path, request_id: str, timeout_s: float = 60,
                 store: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = wait_until(lambda: outcome(data_dir, request_id, store), timeout_s=timeout_s,
                                        what=f"outcome of {request_id}")
    return result


def event_invoke(client: Any, name: str, payload: dict[str, Any] | bytes, **kw: Any) -> str:
    """An Event invoke; returns the 202's request id."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=body, **kw)
    assert response["StatusCode"] == 202, response
    request_id: str = response["ResponseMetadata"]["RequestId"]
    return request_id
