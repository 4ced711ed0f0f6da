"""From SLI data to events, the one shape every budgeting method is counted in. Pure.

An events frame has one row per counted unit, indexed by the time it ends:

| column    | meaning                                                                |
|-----------|------------------------------------------------------------------------|
| timestamp | end of the step, sample interval or slice the row stands for (UTC)     |
| bad       | bad events (requests, seconds of a bad gauge, bad slices)              |
| total     | all events of the row                                                  |
| allowed   | bad events the objective in force at `timestamp` permits               |
| observed  | seconds of the row for which data was present (coverage)               |

Occurrences counts requests (ratio SLIs) or seconds (threshold SLIs: each gauge sample
weighs the time until the next one). Timeslices and RatioTimeslices count slices over a
full grid: slices without data have total 0 but still carry their allowance, so a budget
is a share of every slice in the window, as the method defines it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd

from slopipe.slo import math as slomath
from slopipe.slo.model import Objective, RatioIndicator, SloDefinition

#: Objective ratio in force at each of an array of timestamps.
ObjectiveAt = Callable[[pd.DatetimeIndex], np.ndarray]
COLUMNS = ["timestamp", "bad", "total", "allowed", "observed"]


def build(
    slo: SloDefinition,
    objective: Objective,
    data: dict,
    start: pd.Timestamp,
    end: pd.Timestamp,
    objective_at: ObjectiveAt,
) -> pd.DataFrame:
    """The events of one objective from `start` (exclusive) to `end` (inclusive)."""
    if slo.budgeting_method == "Occurrences":
        if isinstance(slo.indicator, RatioIndicator):
            return _ratio_occurrences(slo.indicator, data, objective_at)
        return _threshold_occurrences(slo, objective, data, end, objective_at)
    return _slices(slo, objective, data, start, end, objective_at)


def _ratio_parts(indicator: RatioIndicator, data: dict) -> tuple[pd.Series, pd.Series]:
    """Per-step bad and total counts on the total's steps. A bad series that does not
    exist yet (no error so far) counts as zero bad events, not as missing data."""
    total = _indexed(data[indicator.total])
    part = _aligned(data[indicator.good or indicator.bad], total)
    bad = (total - part).clip(lower=0.0) if indicator.good is not None else part
    return bad, total


def _aligned(frame: pd.DataFrame, total: pd.Series) -> pd.Series:
    """`frame`'s values on the steps of `total`, zero where it has none."""
    stamps = frame["timestamp"].to_numpy("datetime64[ns]")
    if len(stamps) == len(total) and np.array_equal(stamps, total.index.to_numpy("datetime64[ns]")):
        values = frame["value"].to_numpy(dtype="float64")
        return pd.Series(np.nan_to_num(values, nan=0.0), index=total.index)
    return _indexed(frame).reindex(total.index).fillna(0.0)


def _ratio_occurrences(indicator, data, objective_at) -> pd.DataFrame:
    bad, total = _ratio_parts(indicator, data)
    stamps = pd.DatetimeIndex(total.index)
    return _frame(
        stamps,
        bad.to_numpy(),
        total.to_numpy(),
        total.to_numpy() * (1.0 - objective_at(stamps)),
        np.full(len(stamps), _step_seconds(stamps)),
    )


def _threshold_occurrences(slo, objective, data, end, objective_at) -> pd.DataFrame:
    frame = data[slo.indicator.source].dropna(subset=["value"])
    stamps = pd.DatetimeIndex(frame["timestamp"])
    seconds = slomath.sample_seconds(frame["timestamp"], end, slo.indicator.max_sample_gap)
    good = slomath.satisfies(frame["value"].to_numpy(), objective.op, objective.threshold)
    # A sample stands for the time after it, so its row ends where that time ends.
    ends = stamps + pd.to_timedelta(seconds, unit="s")
    allowed = seconds * (1.0 - objective_at(ends))
    return _frame(ends, np.where(good, 0.0, seconds), seconds, allowed, seconds)


def _slices(slo, objective, data, start, end, objective_at) -> pd.DataFrame:
    length = objective.time_slice
    count = int(np.ceil((end - start) / length))
    slices, good, weight = _slice_inputs(slo, objective, data, start, length)
    sums = slomath.slice_sums(slices, {"good": good, "weight": weight}, count)
    observed = sums["weight"] > 0
    share = np.divide(sums["good"], sums["weight"], out=np.ones(count), where=observed)
    if slo.budgeting_method == "RatioTimeslices":
        bad = np.where(observed, 1.0 - share, 0.0)
    else:
        target = objective.time_slice_target or _default_slice_target(slo, objective)
        bad = (observed & (share < target - 1e-12)).astype("float64")
    ends = pd.DatetimeIndex(start + length * (np.arange(count) + 1))
    seconds = np.where(observed, length.total_seconds(), 0.0)
    return _frame(ends, bad, observed.astype("float64"), 1.0 - objective_at(ends), seconds)


def _slice_inputs(slo, objective, data, start, length):
    """Slice number, good amount and weight of each input row."""
    if isinstance(slo.indicator, RatioIndicator):
        bad, total = _ratio_parts(slo.indicator, data)
        slices = slomath.slice_index(total.index, start, length)
        return slices, (total - bad).to_numpy(), total.to_numpy()
    frame = data[slo.indicator.source].dropna(subset=["value"])
    good = slomath.satisfies(frame["value"].to_numpy(), objective.op, objective.threshold)
    slices = slomath.slice_index(frame["timestamp"], start, length)
    return slices, good.astype("float64"), np.ones(len(frame))


def _default_slice_target(slo: SloDefinition, objective: Objective) -> float:
    # A threshold slice is good when every sample is; a ratio slice when it meets the
    # objective itself.
    return objective.objective_ratio if isinstance(slo.indicator, RatioIndicator) else 1.0


def _indexed(frame: pd.DataFrame) -> pd.Series:
    stamps = pd.DatetimeIndex(frame["timestamp"])
    series = pd.Series(frame["value"].to_numpy(dtype="float64"), index=stamps)
    if not (stamps.is_monotonic_increasing and stamps.is_unique):
        series = series[~series.index.duplicated(keep="last")].sort_index()
    return series[series.notna().to_numpy()]


def _step_seconds(stamps: pd.DatetimeIndex) -> float:
    if len(stamps) < 2:
        return 60.0
    return float(np.median(np.diff(stamps.as_unit("ns").asi8)) / 1e9)


def _frame(stamps, bad, total, allowed, observed) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(stamps),
            "bad": np.asarray(bad, dtype="float64"),
            "total": np.asarray(total, dtype="float64"),
            "allowed": np.asarray(allowed, dtype="float64"),
            "observed": np.asarray(observed, dtype="float64"),
        }
    )


def constant(objective_ratio: float) -> ObjectiveAt:
    return lambda stamps: np.full(len(stamps), objective_ratio)


def stepwise(changes: list[tuple[pd.Timestamp, float]]) -> ObjectiveAt:
    """The objective of the latest change before each time (the first before all). A row
    ending at the instant of a change stood for the time before it: old objective."""
    times = pd.DatetimeIndex([t for t, _ in changes]).as_unit("ns").asi8
    ratios = np.array([r for _, r in changes])

    def at(stamps: pd.DatetimeIndex) -> np.ndarray:
        found = np.searchsorted(times, pd.DatetimeIndex(stamps).as_unit("ns").asi8, side="left") - 1
        return ratios[np.clip(found, 0, len(ratios) - 1)]

    return at


def window_sums(events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict:
    """Sums of bad, total, allowed and observed over rows in (start, end]."""
    inside = (events["timestamp"] > start) & (events["timestamp"] <= end)
    return {c: float(events.loc[inside, c].sum()) for c in COLUMNS[1:]}


def timedelta_label(duration: timedelta) -> str:
    from slopipe.slo.durations import format_duration

    return format_duration(duration)
