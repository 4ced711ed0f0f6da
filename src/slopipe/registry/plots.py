"""Figures logged with training runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def series_figure(scored: pd.DataFrame, max_series: int = 6) -> Figure:
    """Each series over time, anomalies marked in red; one panel per series."""
    names = sorted(scored["series"].unique())[:max_series]
    figure, axes = plt.subplots(
        len(names) or 1, 1, figsize=(11, 2.2 * max(len(names), 1)), sharex=False, squeeze=False
    )
    for axis, name in zip(axes[:, 0], names, strict=False):
        rows = scored[scored["series"] == name]
        axis.plot(rows["timestamp"], rows["value"], linewidth=0.7, color="#1f77b4")
        hits = rows[rows["is_anomaly"]]
        axis.scatter(hits["timestamp"], hits["value"], s=12, color="#d62728", zorder=3)
        axis.set_title(name, fontsize=9, loc="left")
        axis.tick_params(labelsize=7)
    figure.tight_layout()
    plt.close(figure)
    return figure


def score_histogram(scored: pd.DataFrame, threshold: float) -> Figure:
    """The distribution of anomaly scores, with the flagging threshold drawn."""
    figure, axis = plt.subplots(figsize=(7, 3))
    axis.hist(scored["anomaly_score"], bins=60, color="#1f77b4")
    axis.axvline(threshold, color="#d62728", linestyle="--", label=f"threshold {threshold:.3f}")
    axis.set_xlabel("anomaly score (higher is more anomalous)")
    axis.set_ylabel("samples")
    axis.set_yscale("log")
    axis.legend(fontsize=8)
    figure.tight_layout()
    plt.close(figure)
    return figure
