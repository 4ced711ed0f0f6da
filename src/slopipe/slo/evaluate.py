"""Evaluate SLO definitions over metric data: one `SloStatus` per objective.

The data comes through a `Fetch` callable, so this module does no I/O itself: given a metric
source and a time range it returns a frame with `timestamp` and `value` in (start, end]
(counters already turned into per-step increases by `slopipe.prepare`). "Now" is the
`window_end` argument.

States, in order of precedence:

    no_data            no events in the window (zero traffic is not 100%, and not NaN)
    insufficient_data  coverage (observed span / window) below the SLO's min_coverage
    breached           error_budget_remaining < 0
    ok                 otherwise
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from slopipe.slo import events as ev
from slopipe.slo import math as slomath
from slopipe.slo import periods
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.durations import format_duration
from slopipe.slo.model import AlertTier, MetricSource, Objective, SloDefinition

Fetch = Callable[[MetricSource, pd.Timestamp, pd.Timestamp], pd.DataFrame]

#: Windows whose burn rates are always reported (when shorter than the SLO period), beside
#: every window of the SLO's alert tiers.
BURN_WINDOWS = tuple(
    timedelta(**kw)
    for kw in (
        {"minutes": 5},
        {"minutes": 30},
        {"hours": 1},
        {"hours": 6},
        {"days": 1},
        {"days": 3},
    )
)
#: Occurrences SLIs are cut into slices of this length to find the periods that breach.
RATIO_SLICE = timedelta(minutes=5)
#: The burn rate the budget-exhaustion forecast extrapolates.
FORECAST_WINDOW = timedelta(hours=1)


@dataclass
class SloStatus:
    name: str
    objective_name: str
    objective_ratio: float
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    good: float
    total: float
    sli: float | None
    error_budget_remaining: float
    coverage: float
    state: str  # ok, breached, no_data or insufficient_data
    version: int | None = None
    budgeting_method: str = "Occurrences"
    slice_length: timedelta = RATIO_SLICE
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    budget_exhausted_in: timedelta | None = None
    #: Numbers of the slices (of `slice_length`, from `window_start`) that burn the budget
    #: faster than it lasts; `bad_periods` gives their times.
    bad_slices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))

    @property
    def bad_periods(self) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        length = pd.Timedelta(self.slice_length)
        starts = self.window_start + pd.to_timedelta(self.bad_slices * length.value, unit="ns")
        return list(zip(starts, starts + length, strict=True))

    def as_dict(self) -> dict:
        exhausted = self.budget_exhausted_in
        return {
            "name": self.name,
            "version": self.version,
            "sli": _finite(self.sli),
            "objective": self.objective_ratio,
            "objective_ratio": self.objective_ratio,
            "objective_name": self.objective_name,
            "budgeting_method": self.budgeting_method,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "good": self.good,
            "total": self.total,
            "error_budget_remaining": _finite(self.error_budget_remaining),
            "coverage": self.coverage,
            "state": self.state,
            "burn_rates": {k: _finite(v) for k, v in self.burn_rates.items()},
            "alerts": self.alerts,
            "budget_exhausted_in_seconds": None if exhausted is None else exhausted.total_seconds(),
            "bad_periods": len(self.bad_slices),
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def evaluate(
    slo: SloDefinition,
    fetch: Fetch,
    window_end: pd.Timestamp,
    version: int | None = None,
    history: Sequence[tuple[pd.Timestamp, SloDefinition]] = (),
) -> list[SloStatus]:
    """One status per objective of `slo`, over its window that ends at `window_end`.

    `history` lists the versions with the time each took effect (oldest first): events are
    held to the objective in force when they happened, so an objective changed in
    mid-window changes the budget only from then on. Events from before the first version
    are held to the current objective.
    """
    span = periods.span(slo.window, window_end)
    tiers = resolve_tiers(slo.alerting, slo.window.duration)
    windows = _burn_windows(slo.window.duration, tiers)
    reach = span.end - max([span.elapsed, *windows])
    data = {s: fetch(s, reach, span.end) for s in slo.sources()}
    return [
        _evaluate_objective(slo, i, data, span, reach, tiers, windows, version, history)
        for i in range(len(slo.objectives))
    ]


def _burn_windows(period: timedelta, tiers: Sequence[AlertTier]) -> list[timedelta]:
    chosen = set(BURN_WINDOWS) | {t.long_window for t in tiers} | {t.short_window for t in tiers}
    return sorted(w for w in chosen if w < period)


def _evaluate_objective(slo, index, data, span, reach, tiers, windows, version, history):
    objective = slo.objectives[index]
    objective_at = _objective_at(slo, index, history)
    events = ev.build(slo, objective, data, reach, span.end, objective_at)
    sums = _Sums(events)
    inside = sums.between(span.start, span.end)
    allowed = _window_allowance(slo, objective, span, inside)
    remaining = slomath.error_budget_remaining(inside["bad"], allowed)
    rates = {format_duration(w): _burn_rate(sums, span.end - w, span.end) for w in windows}
    status = SloStatus(
        name=slo.name,
        objective_name=objective.name,
        objective_ratio=objective.objective_ratio,
        window_start=span.start,
        window_end=span.end,
        good=inside["total"] - inside["bad"],
        total=inside["total"],
        sli=slomath.good_ratio(inside["bad"], inside["total"]),
        error_budget_remaining=remaining,
        coverage=slomath.coverage(timedelta(seconds=inside["observed"]), span.elapsed),
        state="ok",
        version=version,
        budgeting_method=slo.budgeting_method,
        slice_length=objective.time_slice or RATIO_SLICE,
        burn_rates=rates,
    )
    status.state = _state(status, slo.min_coverage)
    status.alerts = _firing(tiers, sums, span.end, slo.min_events)
    status.budget_exhausted_in = _forecast(status, rates, span.period)
    status.bad_slices = _bad_slices(sums, span, status.slice_length)
    return status


def _objective_at(slo: SloDefinition, index: int, history) -> ev.ObjectiveAt:
    current = slo.objectives[index].objective_ratio
    if not history:
        return ev.constant(current)
    # Data older than the SLO itself (a backfilled lake) is held to today's objective;
    # from each version's creation on, that version's objective applies.
    changes = [(pd.Timestamp.min.tz_localize("UTC"), current)]
    for since, older in history:
        same = older.objectives[index] if index < len(older.objectives) else None
        changes.append((pd.Timestamp(since), same.objective_ratio if same else current))
    return ev.stepwise(changes)


def _window_allowance(slo, objective: Objective, span, inside: dict) -> float:
    """Bad events the whole window permits, observed or not.

    Timeslices: every slice of the period carries its share, including slices to come in a
    calendar period. Occurrences: the observed allowance scaled from the observed span to
    the period, i.e. traffic assumed to go on at its observed rate. With full coverage this
    is just the observed allowance; an SLO with one day of data in a 30-day window has
    spent 1/30 of its budget at burn rate 1, not all of it.
    """
    period = span.period.total_seconds()
    if slo.budgeting_method != "Occurrences":
        slices = math.floor((span.period_end - span.end) / objective.time_slice)
        return inside["allowed"] + slices * (1.0 - objective.objective_ratio)
    if inside["observed"] <= 0:
        return inside["allowed"]
    return inside["allowed"] * max(1.0, period / inside["observed"])


class _Sums:
    """Window sums of events by cumulative sums: O(log n) per window."""

    def __init__(self, events: ev.Events):
        self.times = events.times
        self.values = events.columns
        self.cums = {c: np.concatenate([[0.0], np.cumsum(v)]) for c, v in self.values.items()}

    def bounds(self, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
        """Row positions [lo, hi) of the rows in (start, end]."""
        lo = np.searchsorted(self.times, pd.Timestamp(start).as_unit("ns").value, side="right")
        hi = np.searchsorted(self.times, pd.Timestamp(end).as_unit("ns").value, side="right")
        return int(lo), int(hi)

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
        lo, hi = self.bounds(start, end)
        return {c: float(cum[hi] - cum[lo]) for c, cum in self.cums.items()}


def _burn_rate(sums: _Sums, start, end) -> float | None:
    window = sums.between(start, end)
    if window["observed"] <= 0:
        return None
    return slomath.ratio(window["bad"], window["allowed"])


def _state(status: SloStatus, min_coverage: float) -> str:
    if status.total <= 0:
        return "no_data"
    if status.coverage < min_coverage:
        return "insufficient_data"
    return "breached" if status.error_budget_remaining < 0 else "ok"


def _firing(tiers, sums: _Sums, end, min_events: float) -> list[dict]:
    """Tiers whose long and short window both burn faster than their factor, with at
    least `min_events` events in the long window (one failure in a quiet hour never pages)."""
    firing = []
    for tier in tiers:
        long = sums.between(end - tier.long_window, end)
        rates = [_burn_rate(sums, end - w, end) for w in (tier.long_window, tier.short_window)]
        if long["total"] < max(min_events, 1e-12):
            continue
        if all(r is not None and r > tier.factor for r in rates):
            firing.append(
                {
                    "tier": tier.name,
                    "severity": tier.severity,
                    "factor": tier.factor,
                    "long_window": format_duration(tier.long_window),
                    "short_window": format_duration(tier.short_window),
                    "burn_rates": rates,
                    "labels": dict(tier.labels),
                }
            )
    return firing


def _forecast(status: SloStatus, rates: dict, period: timedelta) -> timedelta | None:
    """Time until the budget is gone at the recent (1h) burn rate."""
    if status.state == "no_data":
        return None
    rate = rates.get(format_duration(FORECAST_WINDOW))
    if rate is None:
        return None
    return slomath.time_to_exhaustion(status.error_budget_remaining, rate, period)


def _bad_slices(sums: _Sums, span, slice_length: timedelta) -> np.ndarray:
    """Slices that burn the budget faster than it lasts (bad above allowed)."""
    lo, hi = sums.bounds(span.start, span.end)
    slices = slomath.slice_index(sums.times[lo:hi], span.start, slice_length)
    count = int(np.ceil((span.end - span.start) / slice_length))
    columns = {c: sums.values[c][lo:hi] for c in ("bad", "allowed")}
    per_slice = slomath.slice_sums(slices, columns, count)
    return np.flatnonzero(per_slice["bad"] > per_slice["allowed"] + 1e-12)
