"""Evaluate SLO definitions over metric data.

The data comes through a `Fetch` callable, so this module does no I/O itself: given a metric
source and a time range it returns a frame with `timestamp` and `value` (counters already
turned into per-step increases by `slopipe.prepare`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from slopipe.slo import math as slomath
from slopipe.slo.model import MetricSource, Objective, RatioIndicator, SloDefinition

Fetch = Callable[[MetricSource, pd.Timestamp, pd.Timestamp], pd.DataFrame]

#: Short windows whose burn rates are reported, as in the SRE Workbook's alert tiers.
BURN_WINDOWS = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}
#: Ratio SLIs are cut into slices of this length to find the periods that breach.
RATIO_SLICE = timedelta(minutes=5)


@dataclass
class SloStatus:
    name: str
    objective_name: str
    objective_ratio: float
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    good: float
    total: float
    sli: float
    error_budget_remaining: float
    coverage: float
    state: str  # ok, breached or no_data
    slice_length: timedelta = RATIO_SLICE
    burn_rates: dict[str, float] = field(default_factory=dict)
    bad_periods: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "objective": self.objective_name,
            "objective_ratio": self.objective_ratio,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "good": self.good,
            "total": self.total,
            "sli": _finite(self.sli),
            "error_budget_remaining": _finite(self.error_budget_remaining),
            "coverage": self.coverage,
            "state": self.state,
            "burn_rates": {k: _finite(v) for k, v in self.burn_rates.items()},
            "bad_periods": len(self.bad_periods),
        }


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def evaluate(slo: SloDefinition, fetch: Fetch, window_end: pd.Timestamp) -> list[SloStatus]:
    """One status per objective of `slo`, over the window that ends at `window_end`."""
    start = window_end - slo.window.duration
    data = {s: fetch(s, start, window_end) for s in slo.sources()}
    return [_evaluate_objective(slo, obj, data, start, window_end) for obj in slo.objectives]


def _evaluate_objective(
    slo: SloDefinition,
    objective: Objective,
    data: dict[MetricSource, pd.DataFrame],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> SloStatus:
    if isinstance(slo.indicator, RatioIndicator):
        events = _ratio_events(slo.indicator, data)
        slice_length = RATIO_SLICE
    else:
        events = _threshold_events(objective, data[slo.indicator.source], start)
        slice_length = objective.time_slice or RATIO_SLICE
    status = _status(slo, objective, events, start, end)
    status.slice_length = slice_length
    status.bad_periods = _bad_periods(events, objective, start, slice_length)
    return status


def _ratio_events(indicator: RatioIndicator, data: dict) -> pd.DataFrame:
    """Per-timestamp bad and total counts of a ratio SLI.

    The two series are joined on the union of their timestamps, a missing side counting as
    zero, so a scrape missed by one series loses none of the other's events.
    """
    total = data[indicator.total].set_index("timestamp")["value"].dropna()
    part = data[indicator.good or indicator.bad].set_index("timestamp")["value"].dropna()
    joined = pd.concat({"total": total, "part": part}, axis=1).fillna(0.0).sort_index()
    bad = joined["total"] - joined["part"] if indicator.good is not None else joined["part"]
    return pd.DataFrame(
        {"timestamp": joined.index, "bad": bad.to_numpy(), "total": joined["total"].to_numpy()}
    )


def _threshold_events(
    objective: Objective, data: pd.DataFrame, start: pd.Timestamp
) -> pd.DataFrame:
    """Timeslices as events: one per slice holding data, bad when the slice is not good."""
    data = data.dropna(subset=["value"])
    good = slomath.satisfies(data["value"].to_numpy(), objective.op, objective.threshold)
    slice_length = objective.time_slice or RATIO_SLICE
    goodness = slomath.timeslice_goodness(
        data["timestamp"], good, start, slice_length, objective.time_slice_target or 1.0
    )
    times = start + (goodness.index.to_numpy() + 1) * slice_length  # each slice's end
    return pd.DataFrame(
        {"timestamp": times, "bad": (~goodness).to_numpy(float), "total": np.ones(len(goodness))}
    )


def _status(
    slo: SloDefinition, objective: Objective, events: pd.DataFrame, start, end
) -> SloStatus:
    total = float(events["total"].sum())
    bad = float(events["bad"].sum())
    good = total - bad
    sli = good / total if total > 0 else math.nan
    if total > 0:
        observed = events["timestamp"].max() - max(events["timestamp"].min(), start)
        coverage = min(1.0, max(observed / slo.window.duration, 0.0))
        state = "ok" if sli >= objective.objective_ratio else "breached"
    else:
        coverage, state = 0.0, "no_data"
    return SloStatus(
        name=slo.name,
        objective_name=objective.name,
        objective_ratio=objective.objective_ratio,
        window_start=start,
        window_end=end,
        good=good,
        total=total,
        sli=sli,
        error_budget_remaining=slomath.error_budget_remaining(
            good, total, objective.objective_ratio
        ),
        coverage=float(coverage),
        state=state,
        burn_rates=_burn_rates(events, objective, slo.window.duration, end),
    )


def _burn_rates(events: pd.DataFrame, objective: Objective, window, end) -> dict[str, float]:
    rates = {}
    for label, length in BURN_WINDOWS.items():
        if length >= window:
            continue
        recent = events[events["timestamp"] > end - length]
        rates[label] = slomath.burn_rate(
            recent["bad"].sum(), recent["total"].sum(), objective.objective_ratio
        )
    return rates


def _bad_periods(events: pd.DataFrame, objective: Objective, start, slice_length) -> list:
    """Slices whose bad ratio exceeds the budget's share: the periods that burn the budget."""
    if events.empty:
        return []
    sums = slomath.slice_ratios(
        events["timestamp"],
        events["bad"].to_numpy(),
        events["total"].to_numpy(),
        start,
        slice_length,
    )
    allowed = 1.0 - objective.objective_ratio
    breaching = sums.index[
        (sums["total"] > 0) & (sums["bad"] / sums["total"].where(sums["total"] > 0) > allowed)
    ]
    return [(start + i * slice_length, start + (i + 1) * slice_length) for i in breaching]
