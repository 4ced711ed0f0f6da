"""SLO windows in time: rolling windows and calendar weeks, months and quarters in an IANA
time zone. Pure: the evaluation time is an argument.

Calendar periods have their real length: February 2026 is 28 days, March 2026 in
Europe/Berlin is 31 days less the hour the clocks skip. Weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from slopipe.slo.model import Window

_MONTHS = {"month": 1, "quarter": 3}


@dataclass(frozen=True)
class Span:
    """The window an evaluation covers: (start, end], inside the period (start, period_end].

    For a rolling window `period_end == end`; for a calendar window `period_end` is the end
    of the calendar period that holds `end`.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    period_end: pd.Timestamp

    @property
    def elapsed(self) -> timedelta:
        return (self.end - self.start).to_pytimedelta()

    @property
    def period(self) -> timedelta:
        return (self.period_end - self.start).to_pytimedelta()


def span(window: Window, end: pd.Timestamp) -> Span:
    """The evaluation span of `window` ending at `end` (a UTC timestamp)."""
    end = _utc(end)
    if window.rolling:
        return Span(end - window.duration, end, end)
    start, period_end = calendar_period(window.calendar_unit, window.time_zone, end)
    return Span(start, end, period_end)


def calendar_period(
    unit: str, time_zone: str, at: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The calendar `unit` (week, month, quarter) in `time_zone` holding `at`, in UTC.

    An instant on a boundary belongs to the period it ends, matching windows closed on the
    right: midnight of March 1 is the last instant of February.
    """
    local = _utc(at).tz_convert(time_zone) - pd.Timedelta(microseconds=1)
    midnight = local.normalize().tz_localize(None)
    if unit == "week":
        first = midnight - pd.Timedelta(days=midnight.weekday())
        following = first + pd.Timedelta(days=7)
    elif unit in _MONTHS:
        months = _MONTHS[unit]
        month = (midnight.month - 1) // months * months + 1
        first = pd.Timestamp(year=midnight.year, month=month, day=1)
        following = first + pd.DateOffset(months=months)
    else:
        raise ValueError(f"unknown calendar unit {unit!r}; use week, month or quarter")
    return _localize(first, time_zone), _localize(following, time_zone)


def _localize(naive: pd.Timestamp, time_zone: str) -> pd.Timestamp:
    # Midnight may not exist on a DST change day; take the first instant after the gap.
    return naive.tz_localize(time_zone, nonexistent="shift_forward", ambiguous=True).tz_convert(
        "UTC"
    )


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
