"""EventBridge schedule expressions: AWS's grammar (accepted / refused) and the fire times they give."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from lambdalite.model import schedule
from lambdalite.model.schedule import Cron, InvalidSchedule, Rate, Ticks


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def iso(value: int | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


def fires(expression: str, start: str, count: int) -> list[str | None]:
    ticks = Ticks(schedule.parse(expression), ms(start))
    out: list[str | None] = []
    at: int | None = ms(start)
    for _ in range(count):
        at = ticks.next_after(at) if at is not None else None
        out.append(iso(at))
    return out


# ---- grammar ------------------------------------------------------------------------------------

VALID = [
    "rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)",
    "cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)", "cron(15 10 ? * 6L 2002-2005)", "cron(0 0 L * ? *)", "cron(0 0 LW * ? *)",
    "cron(0 0 15W * ? *)", "cron(0 0 ? * L *)", "cron(0 0 ? * FRIL *)", "cron(0 0 ? * MON#2 *)",
    "cron(0 0 1 JAN,FEB,DEC ? *)", "cron(0 0 1 jan ? *)", "cron(0 0 ? * sun *)", "cron(* * * * ? *)",
    "cron(0 0 ? * * *)", "cron(0 22-2 * * ? *)", "cron(0 0 ? * FRI-MON *)", "cron(1-10/3 * * * ? *)",
    "cron(0 0 1/7 * ? *)", "cron(0 0 1 */3 ? *)", "cron(0 0 1 1 ? 2030/5)", "cron(59 23 31 12 ? 2199)",
    "cron(0 0 1 1 ? 1970)", "cron(0,30 * * * ? *)", "rate(0001 minute)",
]

INVALID = [
    # the contract's examples
    "rate(10 seconds)", "rate(1 minutes)", "rate(10 minute)", "rate(10)", "rate(0 minutes)", "rate(10 MINUTES)",
    "rate( 10 minutes )", "cron(0 1 * * * *)", "cron(7 20 * * NOT *)", "cron(71 8 1 * ? *)",
    # rate
    "rate(-1 minutes)", "rate(1.5 hours)", "rate(1  minute)", "rate(1 week)", "RATE(1 minute)", "rate 1 minute",
    "rate(1 minute) ", " rate(1 minute)", "rate()", "rate(2 Hours)",
    # cron shape
    "cron(0 10 * * ?)", "cron(0 10 * * ? * *)", "cron(* * * * *)", "cron()", "cron( 0 10 * * ? *)",
    "cron(0 10 * * ? * )", "cron(0  10 * * ? *)", "CRON(0 10 * * ? *)", "cron(0/5, 9-18, ?, *, MON-FRI, *)",
    "at(2026-01-01T00:00:00)", "",
    # day-of-month and day-of-week: exactly one is `?`
    "cron(0 10 ? * ? *)", "cron(0 10 1 * MON *)", "cron(0 10 * * MON *)",
    # ranges of each field
    "cron(60 * * * ? *)", "cron(0 24 * * ? *)", "cron(0 0 0 * ? *)", "cron(0 0 32 * ? *)", "cron(0 0 1 0 ? *)",
    "cron(0 0 1 13 ? *)", "cron(0 0 ? * 0 *)", "cron(0 0 ? * 8 *)", "cron(0 0 1 1 ? 1969)",
    "cron(0 0 1 1 ? 2200)", "cron(*/60 * * * ? *)", "cron(0 */24 * * ? *)", "cron(0/0 * * * ? *)",
    # wildcards where AWS does not allow them
    "cron(L * * * ? *)", "cron(0 W * * ? *)", "cron(0 0 1 L ? *)", "cron(0 0 ? * */2 *)", "cron(0 0 ? * 1/2 *)",
    "cron(0 0 1 1 ? L)", "cron(0 0 1#2 * ? *)", "cron(? 0 1 * ? *)", "cron(0 0 1 ? ? *)",
    # names only where AWS has them, and whole names only
    "cron(0 0 ? * MONDAY *)", "cron(0 0 1 JANUARY ? *)", "cron(0 0 MON * ? *)", "cron(0 0 ? 1 JAN *)",
    # the `#` term stands alone and counts to five
    "cron(0 0 ? * 3#1,6#3 *)", "cron(0 0 ? * 3#6 *)", "cron(0 0 ? * 3#0 *)", "cron(0 0 ? * 8#1 *)",
    # malformed terms
    "cron(1,,2 * * * ? *)", "cron(-5 * * * ? *)", "cron(1-2-3 * * * ? *)", "cron(1- * * * ? *)",
    "cron(a * * * ? *)", "cron(0 0 32W * ? *)", "cron(0 0 L-2 * ? *)", "cron(0 0 1,L * ? *)", "cron(0 0 ? * 1,L *)",
]


@pytest.mark.parametrize("expression", VALID)
def test_aws_accepts(expression: str) -> None:
    assert schedule.is_valid(expression)


@pytest.mark.parametrize("expression", INVALID)
def test_aws_refuses(expression: str) -> None:
    assert not schedule.is_valid(expression)
    with pytest.raises(InvalidSchedule):
        schedule.parse(expression)


def test_rate_units() -> None:
    assert schedule.parse("rate(1 minute)") == Rate(60_000)
    assert schedule.parse("rate(3 hours)") == Rate(3 * 3_600_000)
    assert schedule.parse("rate(2 days)") == Rate(2 * 86_400_000)


def test_cron_fields() -> None:
    cron = schedule.parse("cron(5/20 1-10/3 1,15 JAN-MAR ? 2030/50)")
    assert isinstance(cron, Cron)
    assert cron.minutes == {5, 25, 45}
    assert cron.hours == {1, 4, 7, 10}
    assert cron.months == {1, 2, 3}
    assert cron.years == {2030, 2080, 2130, 2180}
    assert cron.day_of_week is None and cron.day_of_month is not None and cron.day_of_month.days == {1, 15}
    wrapped = schedule.parse("cron(0 22-2 ? * FRI-MON *)")
    assert isinstance(wrapped, Cron) and wrapped.hours == {22, 23, 0, 1, 2}
    assert wrapped.day_of_week is not None and wrapped.day_of_week.weekdays == {6, 7, 1, 2}


# ---- rate ticks ---------------------------------------------------------------------------------


def test_rate_ticks_run_from_the_anchor() -> None:
    assert fires("rate(5 minutes)", "2026-11-29T21:03:17", 3) == [
        "2026-11-29T21:08", "2026-11-29T21:13", "2026-11-29T21:18"]
    ticks = Ticks(Rate(60_000), anchor_ms=1_000)
    assert ticks.next_after(0) == 61_000
    assert ticks.next_after(61_000) == 121_000
    assert ticks.next_after(60_999) == 61_000


def test_scale_shortens_rate_periods_and_their_grace_not_cron() -> None:
    assert Ticks(Rate(60_000), 0, scale=0.02).next_after(0) == 1_200
    assert Ticks(Rate(60_000), 0, scale=0.02).grace_ms == 1_200
    cron = schedule.parse("cron(* * * * ? *)")
    assert Ticks(cron, 0, scale=0.02).next_after(0) == 60_000
    assert Ticks(cron, 0, scale=0.02).grace_ms == 60_000


def test_rate_ticks_end_before_2200() -> None:
    ticks = Ticks(schedule.parse("rate(36500 days)"), ms("2150-01-01T00:00:00"))
    assert ticks.next_after(ms("2150-01-01T00:00:00")) is None


# ---- cron ticks ---------------------------------------------------------------------------------


def test_every_minute_and_quarter_hours() -> None:
    assert fires("cron(* * * * ? *)", "2026-11-29T23:58:30", 3) == [
        "2026-11-29T23:59", "2026-11-30T00:00", "2026-11-30T00:01"]
    assert fires("cron(0/15 * * * ? *)", "2026-11-29T23:50:00", 3) == [
        "2026-11-30T00:00", "2026-11-30T00:15", "2026-11-30T00:30"]


def test_strictly_after() -> None:
    assert fires("cron(0 10 * * ? *)", "2026-11-29T10:00:00", 1) == ["2026-11-30T10:00"]


def test_weekdays_one_is_sunday() -> None:
    # 2026-11-29 is a Sunday.
    assert fires("cron(0 9 ? * 1 *)", "2026-11-28T00:00:00", 2) == ["2026-11-29T09:00", "2026-12-06T09:00"]
    assert fires("cron(0 9 ? * MON-FRI *)", "2026-11-27T10:00:00", 2) == ["2026-11-30T09:00", "2026-12-01T09:00"]
    assert fires("cron(0 9 ? * L *)", "2026-11-23T00:00:00", 2) == ["2026-11-28T09:00", "2026-12-05T09:00"]


def test_last_day_of_month() -> None:
    assert fires("cron(0 0 L * ? *)", "2026-01-31T00:00:00", 3) == [
        "2026-02-28T00:00", "2026-03-31T00:00", "2026-04-30T00:00"]
    assert fires("cron(0 0 L 2 ? *)", "2027-03-01T00:00:00", 1) == ["2028-02-29T00:00"]


def test_nearest_weekday() -> None:
    # 2026-11-01 is a Sunday: Monday the 2nd; 2026-08-01 a Saturday: Monday the 3rd (the month is not left).
    assert fires("cron(0 12 1W 11 ? *)", "2026-01-01T00:00:00", 1) == ["2026-11-02T12:00"]
    assert fires("cron(0 12 1W 8 ? *)", "2026-01-01T00:00:00", 1) == ["2026-08-03T12:00"]
    # 2026-11-15 is a Sunday: Monday 16th; 2026-08-15 a Saturday: Friday 14th.
    assert fires("cron(0 12 15W 11 ? *)", "2026-01-01T00:00:00", 1) == ["2026-11-16T12:00"]
    assert fires("cron(0 12 15W 8 ? *)", "2026-01-01T00:00:00", 1) == ["2026-08-14T12:00"]
    # 2027-01-31 is a Sunday and the month's last day: Friday 29th.
    assert fires("cron(0 12 31W 1 ? *)", "2027-01-01T00:00:00", 1) == ["2027-01-29T12:00"]
    # 30W in February: the month's last day's nearest weekday (2026-02-28 is a Saturday).
    assert fires("cron(0 12 30W 2 ? *)", "2026-01-01T00:00:00", 1) == ["2026-02-27T12:00"]


def test_last_weekday_of_month() -> None:
    # May 2026 ends on a Sunday (Friday 29th), November on a Monday (30th), February 2026 on a Saturday (27th).
    assert fires("cron(0 12 LW 5 ? *)", "2026-01-01T00:00:00", 1) == ["2026-05-29T12:00"]
    assert fires("cron(0 12 LW 11 ? *)", "2026-01-01T00:00:00", 1) == ["2026-11-30T12:00"]
    assert fires("cron(0 12 LW 2 ? *)", "2026-01-01T00:00:00", 1) == ["2026-02-27T12:00"]


def test_last_weekday_of_the_month_nl() -> None:
    assert fires("cron(0 12 ? * 6L *)", "2026-11-01T00:00:00", 3) == [
        "2026-11-27T12:00", "2026-12-25T12:00", "2027-01-29T12:00"]
    assert fires("cron(0 12 ? * FRIL *)", "2026-05-01T00:00:00", 1) == ["2026-05-29T12:00"]


def test_nth_weekday() -> None:
    assert fires("cron(0 12 ? * 3#2 *)", "2026-10-31T00:00:00", 2) == ["2026-11-10T12:00", "2026-12-08T12:00"]
    assert fires("cron(0 12 ? * MON#1 *)", "2026-10-31T00:00:00", 1) == ["2026-11-02T12:00"]
    # A fifth Monday: November 2026 has one (30th), December 2026 none, then February 2027 none, March 29th.
    assert fires("cron(0 12 ? * 2#5 *)", "2026-11-01T00:00:00", 2) == ["2026-11-30T12:00", "2027-03-29T12:00"]


def test_years_bound_the_schedule() -> None:
    assert fires("cron(15 10 ? * 6L 2002-2005)", "2026-01-01T00:00:00", 1) == [None]
    assert fires("cron(59 23 31 12 ? 2199)", "2026-01-01T00:00:00", 2) == ["2199-12-31T23:59", None]
    assert fires("cron(0 0 29 2 ? *)", "2097-01-01T00:00:00", 1) == ["2104-02-29T00:00"]  # 2100 is no leap year
    assert fires("cron(0 0 31 2 ? *)", "2026-01-01T00:00:00", 1) == [None]


def _brute_force(cron: Cron, after_ms: int, limit_days: int) -> int | None:
    """Day by day, then minute by minute within a matching day: no jumps, no shortcuts."""
    after = datetime.fromtimestamp(after_ms / 1000, UTC)
    day = after.date()
    for _ in range(limit_days):
        if day.month in cron.months and day.year in cron.years and cron.day_matches(day):
            for minute in range(1440):
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)
                if moment > after and moment.minute in cron.minutes and moment.hour in cron.hours:
                    return int(moment.timestamp()) * 1000
        day += timedelta(days=1)
    return None


@pytest.mark.parametrize("expression", [
    "cron(* * * * ? *)", "cron(7/13 */5 * * ? *)", "cron(0 0 L * ? *)", "cron(30 12 LW * ? *)",
    "cron(0 8 15W * ? *)", "cron(45 23 ? * 6L *)", "cron(0 6 ? * 2#3 *)", "cron(0 0 ? * SAT,SUN *)",
    "cron(0 22-2 ? * FRI-MON *)", "cron(0 0 1 */2 ? *)", "cron(10 10 10 10 ? *)", "cron(0 0 29 2 ? *)",
])
def test_next_after_agrees_with_a_minute_by_minute_scan(expression: str) -> None:
    cron = schedule.parse(expression)
    assert isinstance(cron, Cron)
    rng = random.Random(expression)
    for _ in range(20):
        after = ms("2026-01-01T00:00:00") + rng.randrange(0, 4 * 365 * 86_400_000)
        expected = _brute_force(cron, after, limit_days=9 * 366)
        assert cron.next_after(after) == expected, (expression, iso(after))


# ---- what is due: once per tick, no backfill ----------------------------------------------------


def test_a_tick_is_fired_at_its_time() -> None:
    ticks = Ticks(Rate(60_000), anchor_ms=0)
    assert ticks.due(60_000, 60_000) == (60_000, 120_000)
    assert ticks.due(60_000, 60_500) == (60_000, 120_000)


def test_only_the_latest_tick_within_the_grace_fires_after_downtime() -> None:
    ticks = Ticks(Rate(60_000), anchor_ms=0)
    # Down from 60 s to 185 s: the ticks at 60 and 120 s are not backfilled; 180 s (5 s late) fires.
    assert ticks.due(60_000, 185_000) == (180_000, 240_000)
    five = Ticks(Rate(300_000), anchor_ms=0)
    # The latest tick (600 s) is 90 s old, beyond the 60 s grace: nothing fires, next at 900 s.
    assert five.due(300_000, 690_000) == (None, 900_000)
    assert five.due(300_000, 650_000) == (600_000, 900_000)


def test_cron_downtime() -> None:
    daily = Ticks(schedule.parse("cron(0 10 * * ? *)"), anchor_ms=0)
    due_ms = ms("2026-11-20T10:00:00")
    assert daily.due(due_ms, ms("2026-11-29T10:00:30")) == (ms("2026-11-29T10:00:00"), ms("2026-11-30T10:00:00"))
    assert daily.due(due_ms, ms("2026-11-29T10:01:30")) == (None, ms("2026-11-30T10:00:00"))
    every = Ticks(schedule.parse("cron(* * * * ? *)"), anchor_ms=0)
    assert every.due(ms("2026-01-01T00:00:00"), ms("2026-11-29T10:00:30")) == (
        ms("2026-11-29T10:00:00"), ms("2026-11-29T10:01:00"))
