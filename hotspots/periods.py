"""Periods: the date ranges users ask about (months, ISO weeks, custom ranges)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hotspots.errors import HotspotsError

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """A half-open date range ``[start, end)`` with a label for people."""

    start: dt.date
    end: dt.date  # exclusive

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        if self.start.day == 1 and self.end.day == 1:
            first_m, last_m = self.start.strftime("%Y-%m"), last.strftime("%Y-%m")
            return first_m if first_m == last_m else f"{first_m} to {last_m}"
        return f"{self.start.isoformat()} to {last.isoformat()}"

    @property
    def months(self) -> list[str]:
        """Every ``YYYY-MM`` the period touches."""
        out, year, month = [], self.start.year, self.start.month
        while dt.date(year, month, 1) < self.end:
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    @property
    def mid_year(self) -> int:
        return (self.start + (self.end - self.start) / 2).year


def shift(period: Period, steps: int) -> Period:
    """The period ``steps`` lengths after (negative: before) this one; whole months stay months."""
    if period.start.day == 1 and period.end.day == 1:
        months = len(period.months)
        return Period(
            add_months(period.start, steps * months), add_months(period.end, steps * months)
        )
    length = period.end - period.start
    return Period(period.start + steps * length, period.end + steps * length)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _start_of(text: str, name: str) -> tuple[dt.date, dt.date]:
    """First day of ``text`` and the day after its last day."""
    text = text.strip()
    try:
        if m := _MONTH.match(text):
            first = dt.date(int(m[1]), int(m[2]), 1)
            return first, add_months(first, 1)
        if m := _DAY.match(text):
            day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            return day, day + dt.timedelta(days=1)
        if m := _WEEK.match(text):
            monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return monday, monday + dt.timedelta(days=7)
    except ValueError:
        pass
    raise HotspotsError(
        f"{name} '{text}' is not a month (2017-10), a day (2017-10-31) or an ISO week (2017-W44)."
    )


def parse_period(start: str, end: str | None = None) -> Period:
    """The period from the start of ``start`` to the end of ``end`` (inclusive of both)."""
    first, _ = _start_of(start, "--from")
    _, after = _start_of(end or start, "--to")
    if after <= first:
        raise HotspotsError(f"The period ends ({end}) before it starts ({start}).")
    return Period(first, after)


def latest_full_window(months_with_data: list[str], length: int) -> Period | None:
    """The latest run of ``length`` consecutive months that all hold data, or None."""
    have = set(months_with_data)
    for last in sorted(have, reverse=True):
        end = add_months(dt.date.fromisoformat(last + "-01"), 1)
        start = add_months(end, -length)
        window = Period(start, end)
        if all(m in have for m in window.months):
            return window
    return None
