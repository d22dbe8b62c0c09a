"""Function log files read back as CloudWatch Logs events, filter patterns, and layers merged into /opt."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lambdalite.faults import Fault
from lambdalite.runtime import layers, log_events, logs
from lambdalite.services.logs.filter_pattern import compile_filter


def test_events_split_by_stream_and_line_with_multi_line_records(tmp_path: Path) -> None:
    book = logs.LogBook(tmp_path)
    book.write("f", b"START RequestId: a Version: $LATEST\n", "s1")
    book.write("f", b"half ", "s1")
    book.write("f", b"START RequestId: b Version: $LATEST\n", "s2")
    book.write("f", b"line\n[ERROR] E: x\rTraceback (most recent call last):\r  File x\n", "s1")
    book.write("f", b"unfinished", "s2")
    book.close()
    events = log_events.read_events(tmp_path, "f", 3)
    by_stream = {s: [e.message for e in events if e.stream == s] for s in ("s1", "s2")}
    assert by_stream["s1"] == ["START RequestId: a Version: $LATEST\n", "half line\n",
                               "[ERROR] E: x\nTraceback (most recent call last):\n  File x\n"]
    assert by_stream["s2"] == ["START RequestId: b Version: $LATEST\n"]  # a line without its newline waits
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert {s.name for s in log_events.streams(events)} == {"s1", "s2"}


def test_rotated_files_are_read_oldest_first_and_retention_deletes_old_ones(tmp_path: Path) -> None:
    book = logs.LogBook(tmp_path, max_bytes=64, keep=2)
    for n in range(6):
        book.write("f", f"line {n} {'x' * 40}\n".encode(), "s")
    book.close()
    messages = [e.message.split()[1] for e in log_events.read_events(tmp_path, "f", 2)]
    assert messages == sorted(messages) and messages[-1] == "5"
    assert (tmp_path / "f.idx.1").exists()
    old_s = time.time() - 3 * 86400
    os.utime(tmp_path / "f.log.2", (old_s, old_s))
    assert log_events.enforce_retention(tmp_path, "f", 2, 1) == 1
    assert not (tmp_path / "f.log.2").exists() and not (tmp_path / "f.idx.2").exists()
    assert (tmp_path / "f.log.1").exists()


def test_stream_names_are_lambdas() -> None:
    name = logs.stream_name("$LATEST", epoch_s=0)
    assert name.startswith("1970/01/01/[$LATEST]") and len(name.split("]")[1]) == 32


@pytest.mark.parametrize(("pattern", "message", "matches"), [
    ("", "anything", True),
    ("ERROR", "[ERROR] boom", True),
    ("ERROR boom", "[ERROR] other", False),
    ('"two words"', "some two words here", True),
    ("?ERROR ?WARN", "WARN: x", True),
    ("?ERROR ?WARN", "INFO: x", False),
    ("hello -again", "hello again", False),
])
def test_text_filter_patterns(pattern: str, message: str, matches: bool) -> None:
    assert compile_filter(pattern)(message) is matches


def test_json_filter_patterns_are_refused() -> None:
    with pytest.raises(Fault) as exc:
        compile_filter('{ $.level = "ERROR" }')
    assert exc.value.code == "InvalidParameterException"


def test_layers_merge_in_order_and_search_paths(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "python").mkdir(parents=True)
    (first / "python" / "m.py").write_text("first")
    (first / "bin").mkdir()
    (first / "bin" / "tool").write_text("tool")
    (second / "python").mkdir(parents=True)
    (second / "python" / "m.py").write_text("second")
    merged = layers.opt_folder((first, second), tmp_path / "opt")
    assert (merged / "python" / "m.py").read_text() == "second" and (merged / "bin" / "tool").exists()
    assert layers.opt_folder((first, second), tmp_path / "opt") == merged
    assert layers.opt_folder((second, first), tmp_path / "opt") != merged
    assert (first / "python" / "m.py").read_text() == "first"  # the layers themselves are untouched
    env = {"PATH": "/usr/bin", "PYTHONPATH": "/mine"}
    layers.add_search_paths(env, "python3.12", "/opt")
    assert env["PYTHONPATH"] == "/mine:/opt/python/lib/python3.12/site-packages:/opt/python"
    assert env["PATH"] == "/usr/bin:/opt/bin" and env["LD_LIBRARY_PATH"] == "/opt/lib"
    node_env: dict[str, str] = {}
    layers.add_search_paths(node_env, "nodejs20.x", "/opt")
    assert node_env["NODE_PATH"] == "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules"


def test_two_writers_of_one_log_keep_their_index_right(tmp_path: Path) -> None:
    """An API process and a worker both write a function's log: each flush lands whole, indexed right."""
    api, worker = logs.LogBook(tmp_path), logs.LogBook(tmp_path)
    for n in range(3):
        api.write("f", f"api {n}\n".encode(), "api-stream")
        worker.write("f", f"worker {n}\n".encode(), "worker-stream")
    api.close()
    worker.close()
    events = log_events.read_events(tmp_path, "f", 3)
    assert sorted((e.stream, e.message) for e in events) == sorted(
        [("api-stream", f"api {n}\n") for n in range(3)] + [("worker-stream", f"worker {n}\n") for n in range(3)])
