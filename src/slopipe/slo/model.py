"""The internal SLO model every loader maps to. Plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

Op = Literal["lt", "lte", "gt", "gte"]
BudgetingMethod = Literal["Occurrences", "Timeslices", "RatioTimeslices"]


@dataclass(frozen=True)
class MetricSource:
    """Where an SLI's numbers come from: a lake series or a PromQL query."""

    type: Literal["lake", "prometheus"]
    series: str | None = None
    query: str | None = None

    def describe(self) -> str:
        return f"lake:{self.series}" if self.type == "lake" else f"prometheus:{self.query}"


@dataclass(frozen=True)
class ThresholdIndicator:
    source: MetricSource


@dataclass(frozen=True)
class RatioIndicator:
    """good/total or bad/total; exactly one of `good` and `bad` is set."""

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
    duration: timedelta
    rolling: bool = True
    calendar_unit: str | None = None
    time_zone: str = "UTC"


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

    def sources(self) -> list[MetricSource]:
        ind = self.indicator
        if isinstance(ind, ThresholdIndicator):
            return [ind.source]
        return [s for s in (ind.good, ind.bad, ind.total) if s is not None]
