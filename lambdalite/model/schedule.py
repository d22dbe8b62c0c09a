"""EventBridge schedule expressions (pure): AWS's `rate(...)` and 6-field `cron(...)` grammar, the fire
times they produce (UTC, millisecond epochs), and the stored state of one scheduled rule.

AWS answers every malformed expression with the one message `Parameter ScheduleExpression is not
valid.`, so `parse` only says yes or no (InvalidSchedule). Cron follows AWS's table: Minutes 0-59
`, - * /`; Hours 0-23 `, - * /`; Day-of-month 1-31 `, - * ? / L W`; Month 1-12 or JAN-DEC `, - * /`;
Day-of-week 1-7 or SUN-SAT (1 = Sunday) `, - * ? L #`; Year 1970-2199 `, - * /`; exactly one of the two
day fields is `?`. A rate's ticks are `anchor + k x period` (k >= 1): the anchor is when the rule was
created, enabled or changed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MINUTE_MS = 60_000
DAY_MS = 86_400_000
FIRST_YEAR = 1970
LAST_YEAR = 2199
# A tick fired later than this after its time is skipped (no backfill after downtime); rates scale it.
GRACE_MS = 60_000
END_MS = 7_258_118_400_000  # 2200-01-01T00:00:00Z: no tick at or after it

_RATE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((\S+(?: \S+)*)\)")
_UNIT_MS = {"minute": MINUTE_MS, "hour": 60 * MINUTE_MS, "day": DAY_MS}
_MONTHS = {name: i + 1 for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_WEEKDAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_NUMBER = re.compile(r"[0-9]+")


class InvalidSchedule(ValueError):
    """Not an expression AWS accepts (`Parameter ScheduleExpression is not valid.`)."""


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """One enabled scheduled rule as the store keeps it: `next_ms` is the next tick to fire (None:
    the expression has no tick left), compared-and-set by whoever fires it."""

    region: str
    bus: str
    name: str
    arn: str
    expression: str
    anchor_ms: int
    next_ms: int | None


# ---- rate ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    period_ms: int  # unscaled

    def period(self, scale: float) -> int:
        return max(1, round(self.period_ms * scale))


def _parse_rate(text: str) -> Rate:
    match = _RATE.fullmatch(text)
    if match is None:
        raise InvalidSchedule(text)
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise InvalidSchedule(text)
    return Rate(value * _UNIT_MS[unit.rstrip("s")])


# ---- cron fields --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayOfMonth:
    days: frozenset[int] = frozenset()
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: int = 0  # nW

    def matches(self, day: date) -> bool:
        last_day = calendar.monthrange(day.year, day.month)[1]
        if self.last:
            return day.day == last_day
        if self.last_weekday:
            return day == _nearest_weekday(day.year, day.month, last_day)
        if self.nearest_weekday:
            return day == _nearest_weekday(day.year, day.month, min(self.nearest_weekday, last_day))
        return day.day in self.days


@dataclass(frozen=True, slots=True)
class DayOfWeek:
    weekdays: frozenset[int] = frozenset()  # 1 = Sunday ... 7 = Saturday
    last_of_month: int = 0  # nL: the month's last such weekday
    nth: tuple[int, int] = (0, 0)  # (weekday, n) of d#n

    def matches(self, day: date) -> bool:
        weekday = day.isoweekday() % 7 + 1
        if self.last_of_month:
            return weekday == self.last_of_month and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        if self.nth[0]:
            return weekday == self.nth[0] and (day.day - 1) // 7 + 1 == self.nth[1]
        return weekday in self.weekdays


def _nearest_weekday(year: int, month: int, day: int) -> date:
    """The weekday closest to `day` without leaving the month (AWS's `W`)."""
    target = date(year, month, day)
    if target.weekday() == 5:  # Saturday: Friday, or Monday when the 1st is a Saturday
        return target - timedelta(days=1) if day > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday: Monday, or Friday when it is the month's last day
        last = calendar.monthrange(year, month)[1]
        return target + timedelta(days=1) if day < last else target - timedelta(days=2)
    return target


def _value(token: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names is not None and token.upper() in names:
        return names[token.upper()]
    if not _NUMBER.fullmatch(token):
        raise InvalidSchedule(token)
    value = int(token)
    if not low <= value <= high:
        raise InvalidSchedule(token)
    return value


def _span(low: int, high: int, start: int, end: int) -> list[int]:
    """start..end inclusive; a range that wraps (FRI-MON, 22-2) runs past `high` back to `low`."""
    if start <= end:
        return list(range(start, end + 1))
    return list(range(start, high + 1)) + list(range(low, end + 1))


def _field(text: str, low: int, high: int, *, names: dict[str, int] | None = None,
           step: bool = True) -> frozenset[int]:
    """A list of `*`, `a`, `a-b`, `a/n`, `*/n`, `a-b/n` terms as the set of values it names."""
    values: set[int] = set()
    for term in text.split(","):
        base, slash, increment = term.partition("/")
        if slash and (not step or not _NUMBER.fullmatch(increment) or not 1 <= int(increment) <= high):
            raise InvalidSchedule(text)
        if base == "*":
            span = list(range(low, high + 1))
        elif "-" in base:
            first, _, last = base.partition("-")
            span = _span(low, high, _value(first, low, high, names), _value(last, low, high, names))
        else:
            start = _value(base, low, high, names)
            span = list(range(start, high + 1)) if slash else [start]
        values.update(span[:: int(increment)] if slash else span)
    return frozenset(values)


_NTH = re.compile(r"([0-9]+|[A-Za-z]{3})#([0-9]+)")
_LAST_DOW = re.compile(r"([0-9]+|[A-Za-z]{3})L")
_NEAREST = re.compile(r"([0-9]+)W")


def _day_of_month(text: str) -> DayOfMonth:
    if text == "L":
        return DayOfMonth(last=True)
    if text == "LW":
        return DayOfMonth(last_weekday=True)
    nearest = _NEAREST.fullmatch(text)
    if nearest:
        return DayOfMonth(nearest_weekday=_value(nearest.group(1), 1, 31, None))
    return DayOfMonth(days=_field(text, 1, 31))


def _day_of_week(text: str) -> DayOfWeek:
    nth = _NTH.fullmatch(text)
    if nth:
        count = int(nth.group(2))
        if not 1 <= count <= 5:
            raise InvalidSchedule(text)
        return DayOfWeek(nth=(_value(nth.group(1), 1, 7, _WEEKDAYS), count))
    if text == "L":  # the week's last day: every Saturday
        return DayOfWeek(weekdays=frozenset({7}))
    last = _LAST_DOW.fullmatch(text)
    if last:
        return DayOfWeek(last_of_month=_value(last.group(1), 1, 7, _WEEKDAYS))
    return DayOfWeek(weekdays=_field(text, 1, 7, names=_WEEKDAYS, step=False))


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: DayOfMonth | None  # None: `?`
    months: frozenset[int]
    day_of_week: DayOfWeek | None  # None: `?`
    years: frozenset[int]

    def day_matches(self, day: date) -> bool:
        if self.day_of_month is not None:
            return self.day_of_month.matches(day)
        return self.day_of_week is not None and self.day_of_week.matches(day)

    def next_after(self, after_ms: int) -> int | None:
        """The first matching minute strictly after `after_ms`; None when there is none up to 2199."""
        start = datetime.fromtimestamp(max(after_ms, 0) // MINUTE_MS * MINUTE_MS / 1000, UTC) \
            + timedelta(minutes=1)
        if after_ms < 0:
            start = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
        day = start.date()
        first_minute = start.hour * 60 + start.minute
        while day.year <= LAST_YEAR:
            if day.year not in self.years:
                day, first_minute = date(day.year + 1, 1, 1), 0
                continue
            if day.month not in self.months:
                day, first_minute = _next_month(day), 0
                continue
            if self.day_matches(day):
                minute = self._first_minute(first_minute)
                if minute is not None:
                    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)
                    return int(moment.timestamp()) * 1000
            day, first_minute = day + timedelta(days=1), 0
        return None

    def _first_minute(self, from_minute: int) -> int | None:
        for hour in sorted(self.hours):
            if hour < from_minute // 60:
                continue
            for minute in sorted(self.minutes):
                if hour * 60 + minute >= from_minute:
                    return hour * 60 + minute
        return None


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _parse_cron(text: str) -> Cron:
    match = _CRON.fullmatch(text)
    if match is None:
        raise InvalidSchedule(text)
    fields = match.group(1).split(" ")
    if len(fields) != 6:
        raise InvalidSchedule(text)
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):  # exactly one of the day fields is `?`
        raise InvalidSchedule(text)
    return Cron(
        minutes=_field(minute, 0, 59),
        hours=_field(hour, 0, 23),
        day_of_month=None if dom == "?" else _day_of_month(dom),
        months=_field(month, 1, 12, names=_MONTHS),
        day_of_week=None if dow == "?" else _day_of_week(dow),
        years=_field(year, FIRST_YEAR, LAST_YEAR),
    )


# ---- the schedule -------------------------------------------------------------------------------


def parse(expression: str) -> Rate | Cron:
    """The schedule an expression describes; InvalidSchedule for anything AWS refuses."""
    if expression.startswith("rate("):
        return _parse_rate(expression)
    if expression.startswith("cron("):
        return _parse_cron(expression)
    raise InvalidSchedule(expression)


def is_valid(expression: str) -> bool:
    try:
        parse(expression)
    except InvalidSchedule:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Ticks:
    """The fire times of one rule: an expression with its anchor and time scale (tests shorten rates)."""

    schedule: Rate | Cron
    anchor_ms: int
    scale: float = 1.0

    @property
    def grace_ms(self) -> int:
        """How late a tick may still fire: 60 s (a rate's is scaled with its period)."""
        return max(1, round(GRACE_MS * self.scale)) if isinstance(self.schedule, Rate) else GRACE_MS

    def next_after(self, after_ms: int) -> int | None:
        """The first tick strictly after `after_ms`."""
        if isinstance(self.schedule, Cron):
            return self.schedule.next_after(after_ms)
        period = self.schedule.period(self.scale)
        k = max(1, (after_ms - self.anchor_ms) // period + 1)
        tick = self.anchor_ms + k * period
        return tick if tick < END_MS else None

    def due(self, next_ms: int, now_ms: int) -> tuple[int | None, int | None]:
        """(the tick to fire now or None, the next tick after now) for a rule whose next tick is
        `next_ms` <= now: the latest tick at or before now, fired only if within the grace. Ticks
        missed beyond it (the dispatchers were down) are skipped: no backfill."""
        floor_ms = max(next_ms, now_ms - self.grace_ms)
        tick = next_ms if next_ms >= floor_ms else self.next_after(floor_ms - 1)
        if tick is None or tick > now_ms:
            return None, self.next_after(now_ms)
        following = self.next_after(tick)
        while following is not None and following <= now_ms:
            tick, following = following, self.next_after(following)
        return tick, following
