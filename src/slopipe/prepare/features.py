"""Detector features, built per series from the prepared frame. Pure: no I/O.

Every feature at a step uses only that step and earlier ones, so scoring a stream gives the
same result as scoring its history. Features are scale-free (z-scores against the series' own
trailing day), so one model can serve series of any unit.

| feature     | what it measures                                              |
|-------------|---------------------------------------------------------------|
| level_z     | value against the trailing day's mean and spread              |
| diff_z      | step-to-step change against the trailing day's changes        |
| seasonal_z  | value against the same time one day earlier                   |
| short_z     | mean of the last quarter hour against the trailing day        |
| spread_log  | log ratio of the last hour's spread to the trailing day's     |
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["level_z", "diff_z", "seasonal_z", "short_z", "spread_log"]
CLIP = 20.0
_EPS = 1e-9


def build_features(prepared: pd.DataFrame) -> pd.DataFrame:
    """Feature rows for every non-gap step: timestamp, series, value and FEATURES."""
    parts = [_series_features(one) for _, one in prepared.groupby("series", sort=True)]
    if not parts:
        return pd.DataFrame(columns=["timestamp", "series", "value", *FEATURES])
    return pd.concat(parts, ignore_index=True)


def _rows(step: pd.Timedelta, span: pd.Timedelta) -> int:
    return max(int(span / step), 2)


def _series_features(one: pd.DataFrame) -> pd.DataFrame:
    one = one.sort_values("timestamp")
    step = one["timestamp"].diff().median() if len(one) > 1 else pd.Timedelta(minutes=1)
    day = _rows(step, pd.Timedelta(days=1))
    hour = _rows(step, pd.Timedelta(hours=1))
    quarter = _rows(step, pd.Timedelta(minutes=15))
    value = one["value"].ffill().fillna(0.0)
    day_mean = value.rolling(day, min_periods=hour).mean()
    day_std = value.rolling(day, min_periods=hour).std()
    diff = value.diff()
    seasonal = value - value.shift(day)
    features = pd.DataFrame(
        {
            "level_z": (value - day_mean) / (day_std + _EPS),
            "diff_z": diff / (diff.rolling(day, min_periods=hour).std() + _EPS),
            "seasonal_z": seasonal / (seasonal.rolling(day, min_periods=hour).std() + _EPS),
            "short_z": (value.rolling(quarter).mean() - day_mean) / (day_std + _EPS),
            "spread_log": np.log((value.rolling(hour).std() + _EPS) / (day_std + _EPS)),
        }
    )
    features = features.fillna(0.0).clip(-CLIP, CLIP)
    out = pd.concat(
        [
            one[["timestamp", "series", "value"]].reset_index(drop=True),
            features.reset_index(drop=True),
        ],
        axis=1,
    )
    return out[~one["gap"].to_numpy()].reset_index(drop=True)
