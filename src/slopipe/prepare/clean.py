"""Cleaning: from raw samples to one regular series per name. Pure: no I/O.

The prepared frame has one row per series and step:

| column    | meaning                                                            |
|-----------|--------------------------------------------------------------------|
| timestamp | a point of the series' regular grid (UTC)                          |
| series    | series name                                                        |
| kind      | counter, gauge or unknown                                          |
| value     | gauges: the sample; counters: the increase over the step          |
| gap       | True where no sample fell on this step (value is NaN)              |

A counter that drops was reset (an exporter restart): its increase is the new value, as
Prometheus's `increase()` assumes, so a restart never looks like a traffic spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from slopipe.collect.samples import split_finite

PREPARED_COLUMNS = ["timestamp", "series", "kind", "value", "gap"]


@dataclass(frozen=True)
class PrepareReport:
    series: int
    samples: int
    duplicates: int
    rejected: int
    gaps: int
    counter_resets: int


def counter_increases(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-sample increases of a cumulative counter, and how many resets were seen.

    The first sample has no predecessor, so its increase is NaN.
    """
    increases = np.diff(values, prepend=np.nan)
    resets = increases < 0
    increases[resets] = values[resets]
    return increases, int(resets.sum())


def infer_step(timestamps: pd.Series) -> pd.Timedelta:
    """The series' step: its most common spacing (the shortest among ties), in whole seconds.

    The mode, unlike the median, is not pulled up by a few gaps.
    """
    spacing = timestamps.diff().dropna().dt.round("s")
    spacing = spacing[spacing > pd.Timedelta(0)]
    if spacing.empty:
        return pd.Timedelta(minutes=1)
    return spacing.mode().min()


def prepare(samples: pd.DataFrame) -> tuple[pd.DataFrame, PrepareReport]:
    """Clean a samples frame into the prepared frame, with counts of what was changed."""
    finite, rejected = split_finite(samples)
    ordered = finite.sort_values(["series", "timestamp"], kind="stable")
    deduped = ordered.drop_duplicates(["series", "timestamp"], keep="last")
    parts, gaps, resets = [], 0, 0
    for _, one in deduped.groupby("series", sort=True):
        regular, n_gaps, n_resets = _regularise(one)
        parts.append(regular)
        gaps, resets = gaps + n_gaps, resets + n_resets
    prepared = pd.concat(parts, ignore_index=True) if parts else _empty()
    report = PrepareReport(
        series=len(parts),
        samples=len(deduped),
        duplicates=len(ordered) - len(deduped),
        rejected=rejected,
        gaps=gaps,
        counter_resets=resets,
    )
    return prepared, report


def sample_values(samples: pd.DataFrame) -> pd.DataFrame:
    """One series' samples as timestamp and value, at their own times (no grid).

    Sorted, duplicates and non-finite values dropped, counters turned into increases.
    SLIs are computed from these, so snapping to a grid never moves a sample across a
    slice boundary.
    """
    finite, _ = split_finite(samples)
    rows = finite.sort_values("timestamp", kind="stable").drop_duplicates("timestamp", keep="last")
    values = rows["value"].to_numpy(dtype="float64")
    if len(rows) and str(rows["kind"].iloc[0]) == "counter":
        values, _ = counter_increases(values)
    frame = pd.DataFrame({"timestamp": rows["timestamp"].to_numpy(), "value": values})
    return frame.dropna().reset_index(drop=True)


def _regularise(one: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    kind = str(one["kind"].iloc[0])
    values = one["value"].to_numpy(dtype="float64")
    resets = 0
    if kind == "counter":
        values, resets = counter_increases(values)
    step = infer_step(one["timestamp"])
    snapped = one["timestamp"].dt.round(step)
    steps = pd.Series(values, index=snapped.to_numpy()).groupby(level=0)
    # Several samples in one step: a counter's increases add up, a gauge keeps its last.
    by_step = steps.sum(min_count=1) if kind == "counter" else steps.last()
    grid = pd.date_range(by_step.index[0], by_step.index[-1], freq=step)
    regular = by_step.reindex(grid)
    gap = ~grid.isin(by_step.index)
    frame = pd.DataFrame(
        {
            "timestamp": grid.as_unit("us"),
            "series": one["series"].iloc[0],
            "kind": kind,
            "value": regular.to_numpy(),
            "gap": gap,
        }
    )
    return frame, int(gap.sum()), resets


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in PREPARED_COLUMNS})
