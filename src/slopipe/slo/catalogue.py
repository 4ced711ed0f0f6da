"""The burn-rate alert catalogue: reviewed YAML data, one file per SLO period
(`windows/30d.yaml`, `28d.yaml`, `7d.yaml`), with each tier's factor derived here:

    factor = budget_consumed * period / long_window

so the 30-day catalogue gives 14.4, 6, 3 and 1, as in the SRE Workbook's table 5-8.

An SLO whose period has no catalogue of its own borrows the budget shares of the nearest
one (factors re-derived for its own period) and loses, with a warning, the tiers whose long
window is not shorter than its period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cache
from importlib import resources

import yaml

from slopipe.slo import math as slomath
from slopipe.slo.durations import parse_duration
from slopipe.slo.model import Alerting, AlertTier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogueTier:
    name: str
    severity: str
    budget_consumed: float
    long_window: timedelta
    short_window: timedelta


@cache
def catalogues() -> dict[timedelta, tuple[CatalogueTier, ...]]:
    """Every catalogue in the package, by period."""
    found = {}
    for entry in resources.files("slopipe.slo").joinpath("windows").iterdir():
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text())
            found[parse_duration(data["period"])] = tuple(_tier(t) for t in data["tiers"])
    return found


def _tier(data: dict) -> CatalogueTier:
    return CatalogueTier(
        name=data["name"],
        severity=data["severity"],
        budget_consumed=float(data["budget_consumed"]),
        long_window=parse_duration(data["long_window"]),
        short_window=parse_duration(data["short_window"]),
    )


@cache
def catalogue_tiers(period: timedelta) -> tuple[AlertTier, ...]:
    """The alert tiers for an SLO period, with factors derived from the catalogue."""
    known = catalogues()
    nearest = min(known, key=lambda p: (abs(p - period), p))
    tiers = []
    for tier in known[nearest]:
        if tier.long_window >= period:
            log.warning(
                "period %s: tier %s dropped, its %s window is not shorter than the period",
                period,
                tier.name,
                tier.long_window,
            )
            continue
        factor = slomath.tier_factor(tier.budget_consumed, period, tier.long_window)
        tiers.append(
            AlertTier(tier.name, tier.severity, factor, tier.long_window, tier.short_window)
        )
    return tuple(tiers)


def declared_tiers(alerting: Alerting, period: timedelta) -> tuple[AlertTier, ...]:
    """An SLO's tiers before switching any off: its own, or its period's catalogue."""
    return alerting.tiers if alerting.tiers is not None else catalogue_tiers(period)


def resolve_tiers(alerting: Alerting, period: timedelta) -> tuple[AlertTier, ...]:
    """An SLO's active tiers: explicit or from the catalogue, minus disabled, relabelled."""
    return tuple(
        replace(t, labels={**t.labels, **alerting.labels.get(t.name, {})})
        for t in declared_tiers(alerting, period)
        if t.name not in alerting.disabled
    )
