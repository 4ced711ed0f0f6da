"""The internal SLO model every loader (OpenSLO, Sloth) maps to. Plain data, no behaviour
beyond small derived properties."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

Op = Literal["lt", "lte", "gt", "gte"]
BudgetingMethod = Literal["Occurrences", "Timeslices", "RatioTimeslices"]
CalendarUnit = Literal["week", "month", "quarter"]


@dataclass(frozen=True)
class MetricSource:
    """Where an SLI's numbers come from: a lake series, a histogram bucket or PromQL.

    A histogram bucket names the histogram (`series` is `<name>_bucket`), the bucket's upper
    bound `le` (normalised to a float, `math.inf` for `+Inf`) and label `matchers`
    (`job="api"`, comma separated, may be empty).
    """

    type: Literal["lake", "prometheus"]
    series: str | None = None
    query: str | None = None
    le: float | None = None
    matchers: str = ""

    def describe(self) -> str:
        if self.type == "prometheus":
            return f"prometheus:{self.query}"
        if self.le is not None:
            inner = ",".join(p for p in (self.matchers, f'le="{format_le(self.le)}"') if p)
            return f"lake:{self.series}{{{inner}}}"
        return f"lake:{self.series}"


def format_le(le: float) -> str:
    """A bucket bound as Prometheus' Go clients write it (`strconv.FormatFloat(le, 'g', -1,
    64)`): `0.3`, `1`, `250000`, `1e+06`, `1e-05`, `+Inf`."""
    if math.isinf(le):
        return "+Inf"
    sign, digits, exponent = Decimal(repr(le)).normalize().as_tuple()
    power = len(digits) + exponent - 1
    if power < -4 or power >= 6:
        text = "".join(map(str, digits))
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    return format(Decimal(repr(le)).normalize(), "f")


@dataclass(frozen=True)
class ThresholdIndicator:
    """A gauge compared with each objective's `op` and `value`.

    Occurrences weighs every sample by the time it stands for (until the next sample, at
    most `max_sample_gap`), so a boolean gauge such as `up` counts good and bad seconds,
    not samples.
    """

    source: MetricSource
    max_sample_gap: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class RatioIndicator:
    """good/total or bad/total counters; exactly one of `good` and `bad` is set."""

    total: MetricSource
    good: MetricSource | None = None
    bad: MetricSource | None = None
    counter: bool = True


Indicator = ThresholdIndicator | RatioIndicator


@dataclass(frozen=True)
class Objective:
    objective_ratio: float
    name: str = ""
    op: Op | None = None
    threshold: float | None = None
    time_slice: timedelta | None = None
    time_slice_target: float | None = None


@dataclass(frozen=True)
class Window:
    """A rolling window of `duration`, or a calendar `week`, `month` or `quarter` in an
    IANA `time_zone` (its `duration` is then the nominal length: 7d, 30d, 90d)."""

    duration: timedelta
    rolling: bool = True
    calendar_unit: CalendarUnit | None = None
    time_zone: str = "UTC"


@dataclass(frozen=True)
class AlertTier:
    """One multi-window burn-rate alert: fires when the burn rate over both windows is
    above `factor` (and the long window saw at least the SLO's minimum events)."""

    name: str
    severity: str
    factor: float
    long_window: timedelta
    short_window: timedelta
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alerting:
    """Alert tiers: explicit ones (AlertPolicy, Sloth) or None for the period's catalogue,
    minus `disabled` tiers, plus extra `labels` per tier name."""

    tiers: tuple[AlertTier, ...] | None = None
    disabled: frozenset[str] = frozenset()
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SloDefinition:
    name: str
    service: str
    indicator: Indicator
    objectives: tuple[Objective, ...]
    window: Window
    budgeting_method: BudgetingMethod
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    alerting: Alerting = field(default_factory=Alerting)
    min_events: float = 0.0
    min_coverage: float = 0.0

    def sources(self) -> list[MetricSource]:
        ind = self.indicator
        if isinstance(ind, ThresholdIndicator):
            return [ind.source]
        return [s for s in (ind.good, ind.bad, ind.total) if s is not None]
