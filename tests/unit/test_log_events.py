"""Log stream names, filter patterns, and layers merged into /opt (function logs read back as events:
tests/contract/test_function_logs_store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalite.faults import Fault
from lambdalite.runtime import layers, logs
from lambdalite.services.logs.filter_pattern import compile_filter


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
