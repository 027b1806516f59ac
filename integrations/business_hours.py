"""Business hours (SPEC §4 `BUSINESS_HOURS`): SLA clocks run inside them only.

The format is one or more `<days> <HH:MM-HH:MM>` pairs and an IANA time zone at the end:

    mon-fri 09:00-18:00 UTC
    mon-thu 08:00-17:00 fri 08:00-12:00 Europe/Paris
    mon-sun 00:00-24:00 UTC

Days are `mon`..`sun`, single (`sat`), ranges (`mon-fri`, `fri-mon` wraps) or comma lists
(`mon,wed,fri`); hours go up to `24:00`. Windows are taken in local time, so a clock started
on a Friday evening in Paris waits for Monday morning in Paris, across daylight-saving changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_MAX_DAYS = 800  # a search for the next window gives up after this many days


class BusinessHoursError(ValueError):
    """`BUSINESS_HOURS` (or an account's override) cannot be read; the message says why."""


@dataclass(frozen=True)
class BusinessHours:
    """Weekly windows in one time zone: `windows[weekday]` is a list of (start, end) minutes."""

    windows: tuple[tuple[tuple[int, int], ...], ...]
    zone: ZoneInfo
    text: str

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        """Read `mon-fri 09:00-18:00 UTC`; BusinessHoursError when it cannot."""
        tokens = text.split()
        if len(tokens) < 3 or len(tokens) % 2 == 0:
            raise BusinessHoursError(
                f"BUSINESS_HOURS: expected '<days> <HH:MM-HH:MM> ... <time zone>', got {text!r}"
            )
        try:
            zone = ZoneInfo(tokens[-1])
        except (ZoneInfoNotFoundError, ValueError):
            raise BusinessHoursError(
                f"BUSINESS_HOURS: {tokens[-1]!r} is not an IANA time zone"
            ) from None
        days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        for day_spec, hours in zip(tokens[:-1:2], tokens[1:-1:2], strict=True):
            span = _hours(hours)
            for day in _days(day_spec):
                days[day].append(span)
        if not any(days):
            raise BusinessHoursError("BUSINESS_HOURS: no business hours at all")
        return cls(tuple(tuple(sorted(d)) for d in days), zone, text)

    def _local_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's windows as aware UTC datetimes."""
        return [
            (_wall(day, start, self.zone), _wall(day, end, self.zone))
            for start, end in self.windows[day.weekday()]
        ]

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` business minutes after `start` (aware; returned in UTC)."""
        left = timedelta(minutes=minutes)
        current = start.astimezone(UTC)
        day = current.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(_MAX_DAYS):
            for begin, end in self._local_windows(day):
                if end <= current:
                    continue
                begin = max(begin, current)
                if end - begin >= left:
                    return begin + left
                left -= end - begin
                current = end
            day += timedelta(days=1)
        raise BusinessHoursError(f"BUSINESS_HOURS: no end within {_MAX_DAYS} days")

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Business minutes between two moments (0 when `end` is before `start`)."""
        total = timedelta()
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        while day <= end.astimezone(self.zone).date():
            for begin, finish in self._local_windows(day):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 60


def _wall(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """`minutes` after local midnight of `day` on the wall clock, as UTC (24:00 = next day)."""
    extra, minutes = divmod(minutes, 24 * 60)
    local = datetime.combine(day + timedelta(days=extra), time(minutes // 60, minutes % 60), zone)
    return local.astimezone(UTC)


def _hours(text: str) -> tuple[int, int]:
    match = _HOURS.match(text)
    if not match:
        raise BusinessHoursError(f"BUSINESS_HOURS: {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60 or start >= end:
        raise BusinessHoursError(f"BUSINESS_HOURS: {text!r} is not a range within 00:00-24:00")
    return start, end


def _days(text: str) -> list[int]:
    out: list[int] = []
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise BusinessHoursError(f"BUSINESS_HOURS: {part!r} is not a day or range of mon..sun")
        a, b = DAYS.index(first), DAYS.index(last or first)
        out.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return out
