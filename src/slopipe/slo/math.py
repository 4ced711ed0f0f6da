"""SLO arithmetic. Pure: counts and arrays in, numbers out; no I/O, no clock.

Conventions: an SLI is a good ratio in [0, 1]; `objective_ratio` is the target (0.999);
the error budget is `1 - objective_ratio` of the window's events or slices. A burn rate of 1
spends the budget exactly over the window; `error_budget_remaining` is 1 when nothing was
spent, 0 when all of it was, and negative when the SLO is breached.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd

_COMPARE = {
    "lt": np.less,
    "lte": np.less_equal,
    "gt": np.greater,
    "gte": np.greater_equal,
}


def satisfies(values: np.ndarray, op: str, threshold: float) -> np.ndarray:
    """Which values meet `value <op> threshold`."""
    return _COMPARE[op](values, threshold)


def error_budget_remaining(good: float, total: float, objective_ratio: float) -> float:
    """Share of the budget left after `total - good` bad events out of `total`."""
    if total <= 0:
        return math.nan
    return 1.0 - ((total - good) / total) / (1.0 - objective_ratio)


def burn_rate(bad: float, total: float, objective_ratio: float) -> float:
    """How fast the budget burns: the bad ratio over the allowed bad ratio."""
    if total <= 0:
        return math.nan
    return (bad / total) / (1.0 - objective_ratio)


def slice_index(timestamps: pd.Series, start: pd.Timestamp, time_slice: timedelta) -> np.ndarray:
    """Slice number of each timestamp: slice k is (start + k*slice, start + (k+1)*slice].

    Slices are half-open like the window (start, end] they cut, so a day of 5-minute slices
    is exactly 288 of them.
    """
    offsets = (pd.Series(timestamps) - start).to_numpy() / np.timedelta64(time_slice)
    return (np.ceil(offsets.astype("float64")) - 1).astype("int64")


def timeslice_goodness(
    timestamps: pd.Series,
    good: np.ndarray,
    start: pd.Timestamp,
    time_slice: timedelta,
    slice_target: float = 1.0,
) -> pd.Series:
    """For each slice holding samples: is it good? (share of good samples >= slice_target)"""
    slices = slice_index(timestamps, start, time_slice)
    share = pd.Series(good.astype("float64")).groupby(slices).mean()
    return share >= slice_target - 1e-12


def slice_ratios(
    timestamps: pd.Series,
    bad: np.ndarray,
    total: np.ndarray,
    start: pd.Timestamp,
    time_slice: timedelta,
) -> pd.DataFrame:
    """Bad and total sums per slice (only slices holding samples)."""
    slices = slice_index(timestamps, start, time_slice)
    frame = pd.DataFrame({"bad": bad, "total": total, "slice": slices})
    return frame.groupby("slice")[["bad", "total"]].sum()
