"""Drift of feature distributions: the population stability index. Pure: no I/O.

PSI compares the share of recent values in each bin of the reference (training) values:
sum((recent - reference) * ln(recent / reference)). Bins are the reference's deciles. Under
0.1 is usually read as stable, 0.1 to 0.25 as a moderate shift, over 0.25 as a real one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slopipe.detect.model import sample_frame
from slopipe.prepare import build_features, prepare

EPSILON = 1e-4
#: Features are z-scores; a reference spread (IQR) under this is treated as constant, and
#: recent values are only told apart when they leave the reference median by `WIDE_BIN`.
MIN_SPREAD = 0.1
WIDE_BIN = 1.0


def psi(reference: np.ndarray, recent: np.ndarray, bins: int | None = None) -> float:
    """Population stability index of `recent` against `reference`.

    Bins default to the reference's deciles, fewer when `recent` is short (about ten
    recent values per bin, at least two bins), so a small sample does not look like drift.

    >>> round(psi(np.arange(1000.0), np.arange(1000.0)), 6)
    0.0
    >>> psi(np.zeros(100), np.zeros(100))
    0.0
    >>> psi(np.full(100, 0.02), np.full(30, -0.01))  # a near-constant feature: no drift
    0.0
    >>> psi(np.full(100, 0.02), np.full(30, 5.0)) > 1
    True
    """
    reference = reference[np.isfinite(reference)]
    recent = recent[np.isfinite(recent)]
    if len(reference) == 0 or len(recent) == 0:
        return 0.0
    bins = bins or min(10, max(2, len(recent) // 10))
    inner = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    if np.subtract(*np.quantile(reference, [0.75, 0.25])) < MIN_SPREAD:
        # Quantiles of a near-constant feature would split noise: compare wide bins instead.
        middle = float(np.median(reference))
        inner = np.array([middle - WIDE_BIN, middle + WIDE_BIN])
    expected = _shares(reference, inner)
    actual = _shares(recent, inner)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(
        np.searchsorted(inner_edges, values, side="right"), minlength=len(inner_edges) + 1
    )
    return np.clip(counts / counts.sum(), EPSILON, None)


def drift_features(samples: pd.DataFrame) -> pd.DataFrame:
    """The scale-free features (`slopipe.prepare.FEATURES`) of raw samples (timestamp,
    series, value, optional kind), whose distributions the drift trigger compares."""
    return build_features(prepare(sample_frame(samples))[0])


def feature_drift(
    reference: pd.DataFrame, recent: pd.DataFrame, features: list[str]
) -> tuple[float, str]:
    """The largest PSI over series and features, and where: ("series/feature")."""
    worst, where = 0.0, ""
    for series, rows in recent.groupby("series"):
        ref = reference[reference["series"] == series]
        if ref.empty:
            continue
        for feature in features:
            value = psi(ref[feature].to_numpy(float), rows[feature].to_numpy(float))
            if value > worst:
                worst, where = value, f"{series}/{feature}"
    return worst, where
