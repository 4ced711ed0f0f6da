"""Calendar periods in a time zone, with their real lengths."""

from datetime import timedelta

import pandas as pd
import pytest

from slopipe.slo.model import Window
from slopipe.slo.periods import calendar_period, span

T = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731


@pytest.mark.parametrize(
    ("unit", "zone", "at", "start", "end", "length"),
    [
        # February 2026 has 28 days; March 31.
        ("month", "UTC", "2026-02-15", "2026-02-01", "2026-03-01", timedelta(days=28)),
        ("month", "UTC", "2026-03-31 23:00", "2026-03-01", "2026-04-01", timedelta(days=31)),
        # A leap year's February has 29.
        ("month", "UTC", "2028-02-10", "2028-02-01", "2028-03-01", timedelta(days=29)),
        # Europe/Berlin: March 2026 starts at 23:00 UTC on Feb 28 (UTC+1) and ends at
        # 22:00 UTC on March 31 (UTC+2, clocks went forward on March 29): 744h - 1h.
        (
            "month",
            "Europe/Berlin",
            "2026-03-15",
            "2026-02-28 23:00",
            "2026-03-31 22:00",
            timedelta(hours=743),
        ),
        # October 2026 in Berlin gains the hour back: 745h.
        (
            "month",
            "Europe/Berlin",
            "2026-10-15",
            "2026-09-30 22:00",
            "2026-10-31 23:00",
            timedelta(hours=745),
        ),
        # Q1 2026 in New York: Jan 1 05:00 UTC to Apr 1 04:00 UTC (DST from March 8).
        (
            "quarter",
            "America/New_York",
            "2026-02-01",
            "2026-01-01 05:00",
            "2026-04-01 04:00",
            timedelta(days=90, hours=-1),
        ),
        # ISO week: Monday 2026-03-02 to Monday 2026-03-09.
        ("week", "UTC", "2026-03-04 12:00", "2026-03-02", "2026-03-09", timedelta(days=7)),
    ],
)
def test_calendar_periods_have_their_real_length(unit, zone, at, start, end, length):
    got_start, got_end = calendar_period(unit, zone, T(at))
    assert (got_start, got_end) == (T(start), T(end))
    assert got_end - got_start == length


def test_the_instant_that_ends_a_period_belongs_to_it():
    # Windows are (start, end]: midnight of March 1 is the last instant of February.
    assert calendar_period("month", "UTC", T("2026-03-01")) == (T("2026-02-01"), T("2026-03-01"))


def test_a_rolling_span_ends_where_asked_and_a_calendar_span_knows_its_period():
    rolling = span(Window(timedelta(days=30)), T("2026-03-10"))
    assert (rolling.start, rolling.end, rolling.period) == (
        T("2026-02-08"),
        T("2026-03-10"),
        timedelta(days=30),
    )
    month = span(Window(timedelta(days=30), False, "month", "UTC"), T("2026-02-10"))
    assert (month.start, month.elapsed, month.period) == (
        T("2026-02-01"),
        timedelta(days=9),
        timedelta(days=28),
    )
