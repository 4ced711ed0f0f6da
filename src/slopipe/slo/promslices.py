"""PromQL for Timeslices and RatioTimeslices SLOs: slices as the steps of a subquery.

A subquery `expr[R:S]` evaluates `expr` at the instants that are multiples of S since the
epoch. With `expr` the ratio of one slice (`rate(...[S])`, Prometheus 2.x's range closed at
both ends, so the counters' increase from one boundary to the next), each step is one
epoch-aligned slice, (k·S − S, k·S]. slopipe cuts its slices from the window's start, so
at an instant that is a multiple of S, with a period that is one too, the two cut the same
slices. Per slice a value in [0, 1]:

    Timeslices        1 when the slice's error ratio exceeds 1 − timeSliceTarget, else 0
    RatioTimeslices   the slice's error ratio

A threshold SLI's slice (Timeslices, where a slice is good when every sample is) is bad
when its highest sample breaks `lt`/`lte` (its lowest, `gt`/`gte`): `max_over_time` over
the slice's raw samples.

A slice without traffic (0/0, NaN in PromQL) counts 0, as in slopipe, and a slice without
data has no step at all; both still carry their share of the budget, so a window of w sums
its steps and divides by its ceil(w/S) slices, whatever their data. The range is those
slices less one millisecond: (t − ceil(w/S)·S, t] holds ceil(w/S) steps at any instant, in
Prometheus 2 (closed range) and 3 alike.
"""

from __future__ import annotations

import math
from datetime import timedelta

from slopipe.slo import promql
from slopipe.slo.durations import format_duration
from slopipe.slo.model import Objective, SloDefinition, ThresholdIndicator

#: slopipe's tolerance on a slice's share against its target (`events._slices`).
TOLERANCE = 1e-12
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def slice_target(objective: Objective) -> float:
    """The good share a slice needs: `timeSliceTarget`, else the objective (ratio SLIs)."""
    return objective.time_slice_target or objective.objective_ratio


def slice_value(slo: SloDefinition, objective: Objective) -> str:
    """PromQL of one slice's bad share (0/1 for Timeslices), present where data is."""
    indicator = slo.indicator
    if isinstance(indicator, ThresholdIndicator):
        return _gauge_slice_bad(indicator, objective)
    slice_range = format_duration(objective.time_slice)
    ratio = promql.error_ratio(indicator, slice_range)
    if slo.budgeting_method == "Timeslices":
        # share < target − tol, written on the error ratio: bad > 1 − target + tol.
        above = promql.number(1 - slice_target(objective) + TOLERANCE)
        return f"{ratio}\n> bool {above}"
    # NaN (no traffic) fails `>= 0` and falls back to the total's rate times 0. Division
    # binds before comparison, comparison before `or`: no parentheses needed.
    total = promql.rate(indicator.total, slice_range)
    return f"{ratio}\n>= 0\nor\n{total} * 0"


def _gauge_slice_bad(indicator: ThresholdIndicator, objective: Objective) -> str:
    """1 when any sample of the slice breaks the objective (timeSliceTarget 1): the
    slice's highest value for `lt`/`lte`, its lowest for `gt`/`gte`; bad if any series is."""
    extreme = "max_over_time" if objective.op in ("lt", "lte") else "min_over_time"
    samples = f"{promql.selector(indicator.source)}[{open_range(objective.time_slice)}]"
    threshold = promql.number(objective.threshold)
    return f"max({extreme}({samples}) {promql.NEGATED[objective.op]} bool {threshold})"


def traffic(slo: SloDefinition, objective: Objective) -> str:
    """PromQL that is 1 for a slice with traffic (or gauge samples), else 0 or none."""
    if isinstance(slo.indicator, ThresholdIndicator):
        samples = f"{promql.selector(slo.indicator.source)}[{open_range(objective.time_slice)}]"
        return f"max(count_over_time({samples}) > bool 0)"
    slice_range = format_duration(objective.time_slice)
    return f"{promql.rate(slo.indicator.total, slice_range)} > bool 0"


def share(expr: str, window: timedelta, time_slice: timedelta) -> str:
    """The sum of `expr` over the slices of `window` ending now, per slice of the window."""
    return f"{total(expr, window, time_slice)}\n/ {slices(window, time_slice)}"


def total(expr: str, window: timedelta, time_slice: timedelta) -> str:
    """The sum of `expr` over the epoch-aligned slices of `window` ending now. The range is
    whole slices, so that it holds as many steps off a boundary as on one (a 5m window of
    1h slices: the last slice, at any instant)."""
    whole = slices(window, time_slice) * time_slice
    steps = f"{open_range(whole)}:{format_duration(time_slice)}"
    return f"sum_over_time((\n{expr}\n)[{steps}])"


def slices(window: timedelta, time_slice: timedelta) -> int:
    """Slices whose end lies in a window (t − w, t] ending on a boundary."""
    return math.ceil(window / time_slice)


def open_range(window: timedelta) -> str:
    """`window` less 1ms as a PromQL duration: 1h gives `59m59s999ms`."""
    left = _milliseconds(window) - 1
    parts = []
    for unit, size in _UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts)


def _milliseconds(duration: timedelta) -> int:
    return duration // timedelta(milliseconds=1)
