"""align: a long frame onto one regular grid, whatever gaps and late starts it has."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.multivariate import align
from slopipe.errors import InputError

T0 = pd.Timestamp("2026-01-01T00:00:00Z")


def minute(n: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=n)


def long_frame(points: list[tuple[float, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(minute(n), series, value) for n, series, value in points],
        columns=["timestamp", "series", "value"],
    )


def test_a_gap_inside_a_series_takes_the_last_value_before_it():
    frame = long_frame([(0, "a", 1.0), (1, "a", 2.0), (3, "a", 4.0), (2, "b", 0.0)])
    grid = align(frame)
    assert grid["a"].tolist() == [1.0, 2.0, 2.0, 4.0]


def test_a_late_series_takes_its_first_value_before_it_starts():
    frame = long_frame([(n, "a", float(n)) for n in range(4)] + [(2, "b", 7.0), (3, "b", 8.0)])
    grid = align(frame)
    assert grid["b"].tolist() == [7.0, 7.0, 7.0, 8.0]


def test_the_grid_is_regular_at_the_common_step_and_columns_are_sorted():
    frame = long_frame([(0, "z", 1.0), (1, "a", 1.0), (2, "z", 1.0), (5, "a", 1.0)])
    grid = align(frame)
    assert list(grid.columns) == ["a", "z"]
    assert list(grid.index) == [minute(n) for n in range(6)]


def test_off_grid_points_snap_to_the_nearest_step_and_duplicates_average():
    frame = long_frame([(0, "a", 1.0), (1.1, "a", 2.0), (0.9, "a", 4.0), (2, "a", 5.0)])
    grid = align(frame, step=timedelta(minutes=1))
    assert grid["a"].tolist() == [1.0, 3.0, 5.0]


def test_one_timestamp_aligns_when_the_step_is_given():
    grid = align(long_frame([(0, "a", 1.0), (0, "b", 2.0)]), step=timedelta(minutes=1))
    assert grid.shape == (1, 2)


def test_a_constant_series_is_kept():
    frame = long_frame([(n, "a", float(n)) for n in range(3)] + [(n, "c", 0.0) for n in range(3)])
    assert align(frame)["c"].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"timestamp": [T0], "value": [1.0]}), "lacks column"),
        (pd.DataFrame({"timestamp": [1, 2], "series": ["a"] * 2, "value": [1.0, 2.0]}), "datetime"),
        (long_frame([(0, "a", 1.0), (1, "a", 1.0), (1, "b", np.nan)]), "no finite value"),
        (long_frame([(0, "a", 1.0), (0, "b", 1.0)]), "infer a step"),
    ],
    ids=["missing column", "numeric timestamps", "all-NaN series", "one timestamp"],
)
def test_an_unusable_frame_is_an_input_error_saying_why(frame, message):
    with pytest.raises(InputError, match=message):
        align(frame)
