"""Replay an SLO over the stored history: its SLI, budget and burn rates over time, and the
alerts its tiers would have fired. This is the what-if preview of an edit.

The numbers come from the SLO engine's own `evaluate`, run at evenly spaced window ends over
the full-resolution data; only the number of evaluation points is limited, never the data
each evaluation reads. Each source is read once for the whole span (`HistoryFetch`).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from slopipe.slo.evaluate import Fetch, evaluate
from slopipe.slo.model import MetricSource, SloDefinition
from slopipe.ui.editing import AlertTier

#: Candidate spacings of replay points; the finest that keeps under `max_points` wins.
STEPS = [timedelta(minutes=m) for m in (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)]


class HistoryFetch:
    """A fetch that reads each source once over [start, end] and slices it in memory."""

    def __init__(self, fetch: Fetch, start: pd.Timestamp, end: pd.Timestamp):
        self.fetch, self.start, self.end = fetch, start, end
        self.cache: dict[MetricSource, pd.DataFrame] = {}

    def __call__(self, source: MetricSource, start, end) -> pd.DataFrame:
        if source not in self.cache:
            self.cache[source] = self.fetch(source, self.start, self.end)
        frame = self.cache[source]
        stamps = frame["timestamp"]
        return frame[(stamps > start) & (stamps <= end)].reset_index(drop=True)


def replay_ends(
    first: pd.Timestamp, last: pd.Timestamp, window: timedelta, max_points: int = 120
) -> pd.DatetimeIndex:
    """Window ends to evaluate at: from one window after the first sample (or half-way
    through the history when it is shorter than two windows) to the last sample."""
    start = min(first + window, first + (last - first) / 2)
    span = last - start
    step = next((s for s in STEPS if span / s <= max_points), STEPS[-1])
    ends = pd.date_range(end=last, periods=int(span / step) + 1, freq=step)
    return ends[ends >= start]


def replay(definition: SloDefinition, fetch: Fetch, ends: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per window end and objective: window_end, objective, objective_ratio, sli,
    error_budget_remaining, coverage, state, and a `burn_<window>` column per burn window."""
    history = HistoryFetch(fetch, ends[0] - definition.window.duration, ends[-1])
    rows = []
    for end in ends:
        for status in evaluate(definition, history, end):
            row = status.as_dict()
            burn = row.pop("burn_rates")
            row.update({f"burn_{k}": v for k, v in burn.items()})
            row["window_end"] = end
            rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.drop(columns=["name", "window_start", "bad_periods"], errors="ignore")


def fired_alerts(replayed: pd.DataFrame, tiers: tuple[AlertTier, ...]) -> pd.DataFrame:
    """The alerts each tier would have fired: runs of replay points at which the burn rate
    over both the tier's windows reached its threshold; an alert ends one replay step
    after its last firing point. Columns: tier, severity, objective,
    starts_at, ends_at, peak_burn_rate."""
    found = []
    step = replayed["window_end"].diff().median() if len(replayed) > 1 else timedelta(0)
    for tier in (t for t in tiers if t.enabled):
        long_col, short_col = f"burn_{tier.long_window}", f"burn_{tier.short_window}"
        if long_col not in replayed or short_col not in replayed:
            continue
        for objective, rows in replayed.groupby("objective", sort=False):
            firing = (rows[long_col] >= tier.burn_rate) & (rows[short_col] >= tier.burn_rate)
            episode = (firing != firing.shift()).cumsum()[firing]
            for _, part in rows[firing].groupby(episode):
                found.append(
                    {
                        "tier": tier.label,
                        "severity": tier.severity,
                        "objective": objective,
                        "starts_at": part["window_end"].iloc[0],
                        "ends_at": part["window_end"].iloc[-1] + step,
                        "peak_burn_rate": float(part[long_col].max()),
                    }
                )
    columns = ["tier", "severity", "objective", "starts_at", "ends_at", "peak_burn_rate"]
    return pd.DataFrame(found, columns=columns)
