"""`--since` / `--until` and the console's time filters: durations ago, epoch ms, ISO times (UTC by default)."""

from __future__ import annotations

import pytest

from lambdalite.console.commands import parse_time_ms

AT_MS = 1_800_000_000_000


def test_durations_epoch_and_iso() -> None:
    assert parse_time_ms("15m", AT_MS) == AT_MS - 900_000
    assert parse_time_ms("2h", AT_MS) == AT_MS - 7_200_000
    assert parse_time_ms("1.5d", AT_MS) == AT_MS - 129_600_000
    assert parse_time_ms("1700000000000", AT_MS) == 1_700_000_000_000
    assert parse_time_ms("2026-01-31T12:00", AT_MS) == 1_769_860_800_000
    assert parse_time_ms("2026-01-31T13:00+01:00", AT_MS) == 1_769_860_800_000
    assert parse_time_ms(None, AT_MS) is None and parse_time_ms("", AT_MS) is None


def test_unreadable_times_say_what_works() -> None:
    with pytest.raises(ValueError, match="try 15m"):
        parse_time_ms("yesterday", AT_MS)
