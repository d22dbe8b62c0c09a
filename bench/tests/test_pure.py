"""The harness's pure parts: sink lines, figures from records, the table, py-spy summaries.

Run with `.venv/bin/pytest bench/tests` (not part of the project suite: nothing here measures anything).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench import measure, report, sink
from bench.profile import summarize


def test_handler_lines_have_the_fixed_width_the_harness_counts_by(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sink.txt"
    monkeypatch.setenv("BENCH_SINK", str(path))
    monkeypatch.setattr(sink, "_fd", None)
    s = sink.Sink(path)
    for event_id in (-1, 0, 7, 123456):
        assert sink.record(sink.event(event_id, 1795824361.836093)) == sink.event(event_id, 1795824361.836093)
    assert path.stat().st_size == 4 * sink.LINE_BYTES
    assert s.count() == 4
    records = s.records()
    assert [r.event_id for r in records] == [-1, 0, 7, 123456]
    assert all(r.sent_s == pytest.approx(1795824361.836093) and r.end_s >= r.start_s for r in records)
    s.mark()
    assert s.count() == 0 and s.records() == []
    os.close(sink._fd or -1)


def test_lambda_handler_source_writes_the_same_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sink.txt"
    monkeypatch.setenv("BENCH_SINK", str(path))
    namespace: dict[str, object] = {}
    exec(compile(sink.LAMBDA_HANDLER_SOURCE, "handler.py", "exec"), namespace)
    evt = {"id": 5, "t": 1795824361.5, "pad": sink.PAD}
    assert namespace["handler"](evt, None) == evt  # type: ignore[operator]
    assert path.stat().st_size == sink.LINE_BYTES
    assert sink.Sink(path).records()[0].event_id == 5


def test_event_is_about_100_bytes() -> None:
    assert 90 <= len(sink.event_bytes(19999, 1795824361.836093)) <= 110


def test_end_to_end_counts_unique_measured_events_until_the_last_finish() -> None:
    records = [sink.Record(0.0, 0.0, 0.0, -1), sink.Record(10.0, 10.5, 11.0, 0), sink.Record(10.0, 10.5, 12.0, 1),
               sink.Record(10.0, 11.0, 11.5, 1)]
    out = measure.end_to_end(records, first_sent_s=10.0, expected=3)
    assert out["e2e_completed"] == 2 and out["e2e_duplicates"] == 1
    assert out["e2e_per_s"] == pytest.approx(1.0)


def test_latency_is_start_minus_sent() -> None:
    records = [sink.Record(1.0, 1.0 + i / 1000, 2.0, i) for i in range(1, 101)]
    out = measure.latency(records, expected=100)
    assert out["latency_p50_ms"] == pytest.approx(51.0)
    assert out["latency_p99_ms"] == pytest.approx(100.0)


def test_table_ratios_pick_the_best_peer_per_direction() -> None:
    results: dict[str, dict[str, Any]] = {
        "lambdalite": {"accept": {"accept_per_s": 8000.0}, "latency": {"latency_p50_ms": 3.0}},
        "celery": {"accept": {"accept_per_s": 1000.0}, "latency": {"latency_p50_ms": 4.0}},
        "dramatiq": {"accept": {"accept_per_s": 4000.0}, "latency": {"latency_p50_ms": 6.0}},
        "celery+fsync": {"error": "RuntimeError: boom"},
    }
    text = report.table(results)
    accept_row = next(line for line in text.splitlines() if line.startswith("| accept rate, durable"))
    assert "| 2.00 |" in accept_row and "missed ×1.25" in accept_row
    p50_row = next(line for line in text.splitlines() if "p50, ms |" in line and "latency" in line)
    assert "| 0.75 |" in p50_row and "missed ×1.50" in p50_row
    assert any("boom" in note for note in report.notes(results))


def test_profile_summary_splits_server_and_environments(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    server = 'process 1:"python -m lambdalite serve --port 1"'
    env = 'process 2:"python lambdalite_bootstrap.py"'
    raw.write_text(
        f"{server};_run_code (<frozen runpy>:88);commit (/x/lambdalite/store/db.py:10) 30\n"
        f"{server};_run_code (<frozen runpy>:88);send (/x/lambdalite/queues.py:5) 10\n"
        f"{server};{env};read (/x/bootstrap.py:9) 60\n")
    out = summarize(raw)
    assert out["samples"] == 100
    assert out["share_by_process_pct"] == {"server": 40.0, "environments": 60.0}
    assert out["top_self_pct"][0] == ["commit (store/db.py:10)", 75.0]
    assert all(not frame.startswith("_run_code") for frame, _ in out["top_inclusive_pct"])
    assert out["environments_top_self_pct"] == [["read (x/bootstrap.py:9)", 100.0]]
