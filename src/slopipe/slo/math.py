"""SLO arithmetic. Pure: counts and arrays in, numbers out; no I/O, no clock.

Conventions: an SLI is a good ratio in [0, 1]; `objective_ratio` is the target (0.999).
Every SLI is reduced to *events*: per row a `bad` count, a `total` count and an `allowed`
count, the bad events the objective in force at that time permits (`total * (1 -
objective_ratio)` for Occurrences; `1 - objective_ratio` per slice of the whole window for
Timeslices and RatioTimeslices, observed or not). Then, over any span:

    burn_rate              = sum(bad) / sum(allowed)         (1 spends the budget exactly
                                                              over the window)
    error_budget_remaining = 1 - sum(bad) / sum(allowed)     (1 untouched, 0 spent,
                                                              negative when breached)

Sums are taken before dividing: a ratio of sums, never an average of ratios.
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


def tier_factor(budget_consumed: float, period: timedelta, long_window: timedelta) -> float:
    """The burn rate that spends `budget_consumed` of a `period`'s budget in `long_window`."""
    return budget_consumed * (period / long_window)


def ratio(bad: float, allowed: float) -> float:
    """bad / allowed, where no allowance and no bad events burn nothing."""
    if allowed <= 0:
        return 0.0 if bad <= 0 else math.inf
    return bad / allowed


def error_budget_remaining(bad: float, allowed: float) -> float:
    """Share of the budget left after `bad` events when `allowed` were permitted."""
    return 1.0 - ratio(bad, allowed)


def good_ratio(bad: float, total: float) -> float | None:
    """The SLI; None without events (zero traffic is neither 100% nor NaN)."""
    return None if total <= 0 else 1.0 - bad / total


def time_to_exhaustion(remaining: float, burn_rate: float, window: timedelta) -> timedelta | None:
    """How long the remaining budget lasts at `burn_rate` (None: it does not run out).

    A burn rate of 1 spends a whole budget in `window`, so a share `remaining` lasts
    `remaining * window / burn_rate`.
    """
    if remaining <= 0:
        return timedelta(0)
    if not burn_rate > 0:
        return None
    return window * (remaining / burn_rate)


def coverage(observed: timedelta, window: timedelta) -> float:
    """Observed span over the window, in [0, 1]."""
    if window <= timedelta(0):
        return 0.0
    return min(1.0, max(0.0, observed / window))


def nanoseconds(timestamps) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (int64 arrays pass through)."""
    if isinstance(timestamps, np.ndarray) and timestamps.dtype == np.int64:
        return timestamps
    return pd.DatetimeIndex(timestamps).as_unit("ns").asi8


def slice_index(timestamps, start: pd.Timestamp, time_slice: timedelta) -> np.ndarray:
    """Slice number of each timestamp; slice i is (start + i*slice, start + (i+1)*slice],
    closed on the right like the window (start, end] and a counter's increase."""
    offsets = nanoseconds(timestamps) - pd.Timestamp(start).as_unit("ns").value
    length = pd.Timedelta(time_slice).value
    return -(-offsets // length) - 1


def sample_seconds(timestamps, end: pd.Timestamp, max_gap: timedelta) -> np.ndarray:
    """Seconds each gauge sample stands for: until the next sample (or `end`), at most
    `max_gap`, like Prometheus' staleness. Weighs a boolean gauge by time, not by count."""
    stamps = nanoseconds(timestamps)
    if len(stamps) == 0:
        return np.zeros(0)
    nexts = np.append(stamps[1:], pd.Timestamp(end).as_unit("ns").value)
    seconds = (nexts - stamps) / 1e9
    return np.clip(seconds, 0.0, max_gap.total_seconds())


def slice_sums(
    slices: np.ndarray, columns: dict[str, np.ndarray], count: int
) -> dict[str, np.ndarray]:
    """Per-slice sums of each column over slices 0..count-1 (others are dropped)."""
    inside = (slices >= 0) & (slices < count)
    return {
        name: np.bincount(slices[inside], weights=values[inside], minlength=count)[:count]
        for name, values in columns.items()
    }
