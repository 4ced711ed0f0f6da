"""The samples frame: what every source yields and the lake stores.

| column    | type                 | meaning                                        |
|-----------|----------------------|------------------------------------------------|
| timestamp | datetime64[us, UTC]  | when the sample was taken                      |
| series    | string               | series name, unique across the lake            |
| labels    | string               | JSON object of labels, keys sorted ("{}")      |
| kind      | string               | "counter", "gauge" or "unknown"                |
| value     | float64              | the raw sample; counters as exposed, not rates |
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

COLUMNS = ["timestamp", "series", "labels", "kind", "value"]
KINDS = ("counter", "gauge", "unknown")


def labels_json(labels: Mapping[str, str] | None) -> str:
    """Labels as the lake stores them: compact JSON with sorted keys."""
    return json.dumps(dict(sorted((labels or {}).items())), separators=(",", ":"))


def make_frame(
    timestamps: pd.DatetimeIndex | pd.Series,
    values: np.ndarray | pd.Series,
    series: str,
    kind: str = "gauge",
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One series as a samples frame."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(np.asarray(timestamps), utc=True).as_unit("us"),
            "value": np.asarray(values, dtype="float64"),
        }
    )
    frame.insert(1, "series", series)
    frame.insert(2, "labels", labels_json(labels))
    frame.insert(3, "kind", kind)
    return frame[COLUMNS]


def empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    frame["timestamp"] = pd.Series(dtype="datetime64[us, UTC]")
    frame["value"] = pd.Series(dtype="float64")
    return frame


def split_finite(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop NaN and infinite values; return the rest and how many were dropped."""
    finite = np.isfinite(frame["value"].to_numpy(dtype="float64"))
    return frame[finite].reset_index(drop=True), int((~finite).sum())
