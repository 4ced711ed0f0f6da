"""Cleaning: counters survive resets, gaps are marked, duplicates and NaN are counted."""

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.prepare import prepare
from slopipe.prepare.clean import counter_increases


def test_a_reset_counter_counts_its_new_value_as_the_increase():
    increases, resets = counter_increases(np.array([10.0, 15.0, 3.0, 8.0]))
    assert resets == 1
    assert increases[1:].tolist() == [5.0, 3.0, 5.0]


def test_missing_steps_become_marked_gaps():
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:04"], utc=True)
    prepared, report = prepare(make_frame(times, [1.0, 2.0, 3.0], "g"))
    assert prepared["gap"].tolist() == [False, False, True, True, False]
    assert report.gaps == 2


def test_duplicates_and_non_finite_values_are_counted_and_dropped():
    times = pd.to_datetime(
        ["2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02"], utc=True
    )
    prepared, report = prepare(make_frame(times, [1.0, 2.0, np.nan, np.inf], "g"))
    assert (report.duplicates, report.rejected) == (1, 2)
    assert prepared["value"].iloc[0] == 2.0


def test_counter_increases_are_what_prometheus_increase_would_give():
    times = pd.date_range("2024-01-01", periods=6, freq="1min", tz="UTC")
    frame = make_frame(times, [100, 160, 220, 10, 70, 130], "c_total", kind="counter")
    prepared, report = prepare(frame)
    assert report.counter_resets == 1
    assert prepared["value"].iloc[1:].tolist() == [60, 60, 10, 60, 60]
