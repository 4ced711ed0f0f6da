"""From SLI data to events, the one shape every budgeting method is counted in. Pure.

`Events` holds, per counted unit, the time it ends (int64 nanoseconds, ascending) and:

| column    | meaning                                                                |
|-----------|------------------------------------------------------------------------|
| bad       | bad events (requests, seconds of a bad gauge, bad slices)              |
| total     | all events of the row                                                  |
| allowed   | bad events the objective in force at that time permits                 |
| observed  | seconds of the row for which data was present (coverage)               |

Occurrences counts requests (ratio SLIs) or seconds (threshold SLIs: each gauge sample
weighs the time until the next one). Timeslices and RatioTimeslices count slices over a
full grid: slices without data have total 0 but still carry their allowance, so a budget
is a share of every slice in the window, as the method defines it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slopipe.slo import math as slomath
from slopipe.slo.model import Objective, RatioIndicator, SloDefinition

#: Objective ratio in force at each of an array of int64-nanosecond times.
ObjectiveAt = Callable[[np.ndarray], np.ndarray]
COLUMNS = ("bad", "total", "allowed", "observed")


@dataclass(frozen=True)
class Events:
    times: np.ndarray  # int64 ns, ascending
    columns: dict[str, np.ndarray]


def build(
    slo: SloDefinition,
    objective: Objective,
    data: dict,
    start: pd.Timestamp,
    end: pd.Timestamp,
    objective_at: ObjectiveAt,
) -> Events:
    """The events of one objective from `start` (exclusive) to `end` (inclusive)."""
    if slo.budgeting_method == "Occurrences":
        if isinstance(slo.indicator, RatioIndicator):
            return _ratio_occurrences(slo.indicator, data, objective_at)
        return _threshold_occurrences(slo, objective, data, end, objective_at)
    return _slices(slo, objective, data, start, end, objective_at)


def _series(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A fetched frame as (int64 ns times, values): ascending, unique (last wins), no NaN."""
    times = slomath.nanoseconds(frame["timestamp"].to_numpy("datetime64[ns]").astype("int64"))
    values = frame["value"].to_numpy(dtype="float64")
    if len(times) > 1 and not np.all(times[1:] > times[:-1]):
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        last = np.append(times[1:] != times[:-1], True)
        times, values = times[last], values[last]
    present = ~np.isnan(values)
    return times[present], values[present]


def _ratio_parts(
    indicator: RatioIndicator, data: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, bad and total counts on the union of both series' timestamps, a side with no
    sample at a time counting zero there: a scrape missed by one series loses none of the
    other's events. A bad series that does not exist yet (no error so far) counts as zero
    bad events, not as missing data."""
    total_times, total_values = _series(data[indicator.total])
    part_times, part_values = _series(data[indicator.good or indicator.bad])
    times = np.union1d(total_times, part_times)
    total = _aligned(total_times, total_values, times)
    part = _aligned(part_times, part_values, times)
    bad = np.clip(total - part, 0.0, None) if indicator.good is not None else part
    return times, bad, total


def _aligned(times: np.ndarray, values: np.ndarray, on: np.ndarray) -> np.ndarray:
    """`values` at the times `on`, zero where there is none."""
    if np.array_equal(times, on):
        return values
    if len(times) == 0:
        return np.zeros(len(on))
    at = np.clip(np.searchsorted(times, on), 0, len(times) - 1)
    return np.where(times[at] == on, values[at], 0.0)


def _ratio_occurrences(indicator, data, objective_at) -> Events:
    times, bad, total = _ratio_parts(indicator, data)
    step = np.full(len(times), _step_seconds(times))
    return _events(times, bad, total, total * (1.0 - objective_at(times)), step)


def _threshold_occurrences(slo, objective, data, end, objective_at) -> Events:
    times, values = _series(data[slo.indicator.source])
    seconds = slomath.sample_seconds(times, end, slo.indicator.max_sample_gap)
    good = slomath.satisfies(values, objective.op, objective.threshold)
    # A sample stands for the time after it, so its row ends where that time ends.
    ends = times + (seconds * 1e9).astype("int64")
    allowed = seconds * (1.0 - objective_at(ends))
    return _events(ends, np.where(good, 0.0, seconds), seconds, allowed, seconds)


def _slices(slo, objective, data, start, end, objective_at) -> Events:
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
    first = pd.Timestamp(start).as_unit("ns").value
    ends = first + pd.Timedelta(length).value * (np.arange(count, dtype="int64") + 1)
    seconds = np.where(observed, length.total_seconds(), 0.0)
    return _events(ends, bad, observed.astype("float64"), 1.0 - objective_at(ends), seconds)


def _slice_inputs(slo, objective, data, start, length):
    """Slice number, good amount and weight of each input row."""
    if isinstance(slo.indicator, RatioIndicator):
        times, bad, total = _ratio_parts(slo.indicator, data)
        return slomath.slice_index(times, start, length), total - bad, total
    times, values = _series(data[slo.indicator.source])
    good = slomath.satisfies(values, objective.op, objective.threshold)
    return slomath.slice_index(times, start, length), good.astype("float64"), np.ones(len(times))


def _default_slice_target(slo: SloDefinition, objective: Objective) -> float:
    # A threshold slice is good when every sample is; a ratio slice when it meets the
    # objective itself.
    return objective.objective_ratio if isinstance(slo.indicator, RatioIndicator) else 1.0


def _step_seconds(times: np.ndarray) -> float:
    if len(times) < 2:
        return 60.0
    return float(np.median(np.diff(times)) / 1e9)


def _events(times, bad, total, allowed, observed) -> Events:
    times = np.asarray(times, dtype="int64")
    columns = {
        "bad": np.asarray(bad, dtype="float64"),
        "total": np.asarray(total, dtype="float64"),
        "allowed": np.asarray(allowed, dtype="float64"),
        "observed": np.asarray(observed, dtype="float64"),
    }
    if len(times) > 1 and not np.all(times[1:] >= times[:-1]):
        order = np.argsort(times, kind="stable")
        times, columns = times[order], {c: v[order] for c, v in columns.items()}
    return Events(times, columns)


def constant(objective_ratio: float) -> ObjectiveAt:
    return lambda times: np.full(len(times), objective_ratio)


def stepwise(changes: list[tuple[pd.Timestamp, float]]) -> ObjectiveAt:
    """The objective of the latest change before each time (the first before all). A row
    ending at the instant of a change stood for the time before it: old objective."""
    starts = np.array([pd.Timestamp(t).as_unit("ns").value for t, _ in changes], dtype="int64")
    ratios = np.array([r for _, r in changes])

    def at(times: np.ndarray) -> np.ndarray:
        found = np.searchsorted(starts, times, side="left") - 1
        return ratios[np.clip(found, 0, len(ratios) - 1)]

    return at
