"""Expected SLO figures worked out straight from the input, without slopipe's code."""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

OPS = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def threshold_sli(series: pd.Series, op: str, threshold: float, days: int = 7) -> float:
    """Share of 5-minute slices of the last `days` days in which every sample meets the
    threshold. `series` is indexed by UTC time; the window ends at its newest sample."""
    end = series.index.max()
    start = end - pd.Timedelta(days=days)
    window = series[series.index > start]
    good = OPS[op](window, threshold).astype(float)
    per_slice = good.resample("5min", origin=start, closed="right", label="right").min()
    per_slice = per_slice.dropna()
    return float(per_slice.mean())


def counter_increase(series: pd.Series) -> pd.Series:
    """Increases between successive samples; a drop is a reset, counting the new value."""
    rise = series.diff()
    return rise.where(rise >= 0, series)


def ratio_bad_share(bad: pd.Series, total: pd.Series, days: int = 7) -> float:
    end = max(bad.index.max(), total.index.max())
    start = end - pd.Timedelta(days=days)
    bad_sum = counter_increase(bad)[lambda s: s.index > start].sum()
    total_sum = counter_increase(total)[lambda s: s.index > start].sum()
    return float(bad_sum / total_sum)


def series_from(frame: pd.DataFrame, name: str) -> pd.Series:
    rows = frame[frame["series"] == name].sort_values("timestamp")
    rows = rows.drop_duplicates("timestamp", keep="last")
    return pd.Series(rows["value"].to_numpy(np.float64), index=pd.DatetimeIndex(rows["timestamp"]))
