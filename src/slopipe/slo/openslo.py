"""OpenSLO v1 loader: one self-contained SLO document (indicator and alert policies
inline) to an `SloDefinition`. `documents.py` resolves references between documents first.

Errors name the SLO and the field, e.g. `slo checkout-latency: spec.objectives[0].target:
must be between 0 and 1 exclusive (100% leaves no budget)`.

slopipe reads these `metadata.annotations` of an SLO:

    slopipe.io/disable-tiers: page-slow,ticket-slow   alert tiers switched off
    slopipe.io/tier-labels.page-fast: team=payments   extra labels on one tier's alerts
    slopipe.io/min-events: "10"                       events a tier's long window needs
    slopipe.io/min-coverage: "0.9"                    coverage below which the state is
                                                      insufficient_data
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slopipe.errors import SloValidationError
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.durations import format_duration, parse_duration
from slopipe.slo.model import (
    Alerting,
    AlertTier,
    MetricSource,
    Objective,
    RatioIndicator,
    SloDefinition,
    ThresholdIndicator,
    Window,
)

__all__ = ["load_file", "parse_duration", "parse_slo", "API_VERSION"]

API_VERSION = "openslo/v1"
OPS = ("lt", "lte", "gt", "gte")
METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
CALENDAR = {"1w": ("week", 7), "1M": ("month", 30), "1Q": ("quarter", 90)}
ANNOTATION = "slopipe.io/"
DEFAULT_MIN_EVENTS = 10.0
DEFAULT_MIN_COVERAGE = 0.9


def load_file(path: Path) -> list[tuple[SloDefinition, dict]]:
    """Every SLO in an OpenSLO or Sloth file, parsed, with its self-contained document."""
    from slopipe.slo.documents import load_file as load

    return load(path)


def parse_slo(doc: Any, where: str = "document") -> SloDefinition:
    """One self-contained OpenSLO v1 SLO document as an `SloDefinition`."""
    from slopipe.errors import InputError

    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a mapping with apiVersion, kind, metadata, spec")
    name = _get(doc, "metadata", "name") or "<unnamed>"
    check = Checker(str(name))
    check.equal(doc.get("apiVersion"), API_VERSION, "apiVersion")
    check.equal(doc.get("kind"), "SLO", "kind")
    check.require(isinstance(_get(doc, "metadata", "name"), str), "metadata.name", "is required")
    spec = doc.get("spec")
    check.require(isinstance(spec, dict), "spec", "is required and must be a mapping")
    method = spec.get("budgetingMethod")
    check.require(method in METHODS, "spec.budgetingMethod", f"must be one of {', '.join(METHODS)}")
    annotations = _get(doc, "metadata", "annotations") or {}
    definition = SloDefinition(
        name=str(name),
        service=str(spec.get("service") or ""),
        description=str(spec.get("description") or ""),
        indicator=_indicator(check, spec.get("indicator")),
        objectives=_objectives(check, spec.get("objectives"), method),
        window=_window(check, spec.get("timeWindow")),
        budgeting_method=method,
        labels={str(k): str(v) for k, v in (_get(doc, "metadata", "labels") or {}).items()},
        alerting=_alerting(check, spec.get("alertPolicies"), annotations),
        min_events=_number(check, annotations, "min-events", DEFAULT_MIN_EVENTS, 0, math.inf),
        min_coverage=_number(check, annotations, "min-coverage", DEFAULT_MIN_COVERAGE, 0, 1),
    )
    check_tiers(check, definition)
    check_objectives(check, definition)
    return definition


class Checker:
    """Raises `SloValidationError` naming the SLO and the field."""

    def __init__(self, slo: str):
        self.slo = slo

    def fail(self, field: str, problem: str) -> None:
        raise SloValidationError(self.slo, field, problem)

    def require(self, ok: bool, field: str, problem: str) -> None:
        if not ok:
            self.fail(field, problem)

    def equal(self, got: Any, expected: str, field: str) -> None:
        self.require(got == expected, field, f"is {got!r}, expected {expected!r}")

    def duration(self, text: Any, field: str) -> timedelta:
        try:
            return parse_duration(text)
        except ValueError as err:
            self.fail(field, str(err))
        raise AssertionError("unreachable")


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


# -- indicator ---------------------------------------------------------------------------


def _indicator(check: Checker, indicator: Any) -> ThresholdIndicator | RatioIndicator:
    spec = _get(indicator, "spec")
    check.require(isinstance(spec, dict), "spec.indicator.spec", "an inline indicator is required")
    if "thresholdMetric" in spec:
        field = "spec.indicator.spec.thresholdMetric"
        return ThresholdIndicator(_source(check, spec["thresholdMetric"], field))
    if "ratioMetric" in spec:
        return _ratio(check, spec["ratioMetric"])
    check.fail("spec.indicator.spec", "needs thresholdMetric or ratioMetric")
    raise AssertionError("unreachable")


def _ratio(check: Checker, ratio: Any) -> RatioIndicator:
    field = "spec.indicator.spec.ratioMetric"
    check.require(isinstance(ratio, dict), field, "must be a mapping")
    check.require("total" in ratio, f"{field}.total", "is required")
    check.require(("good" in ratio) != ("bad" in ratio), field, "needs exactly one of good, bad")
    part = "good" if "good" in ratio else "bad"
    numerator = _source(check, ratio[part], f"{field}.{part}")
    total = _source(check, ratio["total"], f"{field}.total")
    same = _normalised(numerator) == _normalised(total)
    check.require(not same, f"{field}.{part}", "is the same as total, so the SLI is always 1")
    return RatioIndicator(
        total=total,
        good=numerator if part == "good" else None,
        bad=numerator if part == "bad" else None,
        counter=bool(ratio.get("counter", True)),
    )


def _normalised(source: MetricSource) -> MetricSource:
    if source.query is None:
        return source
    return MetricSource(source.type, source.series, "".join(source.query.split()), source.le)


def _source(check: Checker, metric: Any, field: str) -> MetricSource:
    source = _get(metric, "metricSource")
    check.require(isinstance(source, dict), f"{field}.metricSource", "is required")
    kind, spec = source.get("type"), source.get("spec") or {}
    field = f"{field}.metricSource"
    if kind == "lake" and "histogram" in spec:
        return _bucket(check, spec, f"{field}.spec")
    if kind == "lake":
        series = spec.get("series")
        check.require(bool(series), f"{field}.spec.series", "names no series")
        return MetricSource("lake", series=str(series))
    if kind == "prometheus":
        query = spec.get("query")
        check.require(bool(query), f"{field}.spec.query", "holds no PromQL query")
        return MetricSource("prometheus", query=str(query))
    check.fail(f"{field}.type", f"is {kind!r}; use lake or prometheus")
    raise AssertionError("unreachable")


def _bucket(check: Checker, spec: dict, field: str) -> MetricSource:
    """A histogram bucket: `histogram` name, `le` bound, optional `labels` and `buckets`."""
    le = parse_le(spec.get("le"))
    check.require(le is not None, f"{field}.le", f"is {spec.get('le')!r}, not a bucket bound")
    buckets = spec.get("buckets")
    if buckets is not None:
        bounds = {parse_le(b) for b in buckets} | {math.inf}
        check.require(
            le in bounds, f"{field}.le", f"{le:g} is not a bucket boundary of {sorted(bounds)}"
        )
    labels = spec.get("labels") or {}
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return MetricSource("lake", series=f"{spec['histogram']}_bucket", le=le, matchers=matchers)


def parse_le(text: Any) -> float | None:
    """A bucket bound normalised to a float: "0.30", "3e-1" and 0.3 are all 0.3."""
    try:
        value = float(str(text).strip().lstrip("+"))
    except ValueError:
        return None
    return None if math.isnan(value) or value < 0 else value


# -- objectives --------------------------------------------------------------------------


def _objectives(check: Checker, objectives: Any, method: str) -> tuple[Objective, ...]:
    ok = isinstance(objectives, list) and objectives
    check.require(ok, "spec.objectives", "needs at least one")
    return tuple(
        _objective(check, o, f"spec.objectives[{i}]", method) for i, o in enumerate(objectives)
    )


def _objective(check: Checker, obj: Any, field: str, method: str) -> Objective:
    check.require(isinstance(obj, dict), field, "must be a mapping")
    ratio = _target(check, obj, field)
    op, threshold = obj.get("op"), obj.get("value")
    if op is not None:
        check.require(op in OPS, f"{field}.op", f"is {op!r}; use one of {', '.join(OPS)}")
        number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
        check.require(number, f"{field}.value", "must be a number")
    time_slice = None
    if method in ("Timeslices", "RatioTimeslices"):
        text = obj.get("timeSliceWindow")
        check.require(text is not None, f"{field}.timeSliceWindow", f"is required by {method}")
        time_slice = check.duration(text, f"{field}.timeSliceWindow")
    slice_target = obj.get("timeSliceTarget")
    if slice_target is not None:
        ok = isinstance(slice_target, int | float) and 0 < slice_target <= 1
        check.require(ok, f"{field}.timeSliceTarget", "must be in (0, 1]")
    return Objective(
        objective_ratio=ratio,
        name=str(obj.get("displayName") or obj.get("name") or ""),
        op=op,
        threshold=float(threshold) if threshold is not None else None,
        time_slice=time_slice,
        time_slice_target=float(slice_target) if slice_target is not None else None,
    )


def _target(check: Checker, obj: dict, field: str) -> float:
    if "target" in obj:
        value, name, scale = obj["target"], "target", 1.0
    elif "targetPercent" in obj:
        value, name, scale = obj["targetPercent"], "targetPercent", 100.0
    else:
        check.fail(f"{field}.target", "is required (or targetPercent)")
    ok = isinstance(value, int | float) and 0 < value / scale < 1
    check.require(
        ok, f"{field}.{name}", f"must be between 0 and {scale:g} exclusive (100% leaves no budget)"
    )
    return round(float(value) / scale, 12)  # 99.9 / 100 is 0.9990000000000001


# -- window ------------------------------------------------------------------------------


def _window(check: Checker, windows: Any) -> Window:
    ok = isinstance(windows, list) and len(windows) == 1 and isinstance(windows[0], dict)
    check.require(ok, "spec.timeWindow", "needs exactly one window")
    window, field = windows[0], "spec.timeWindow[0]"
    if window.get("isRolling", False):
        duration = check.duration(window.get("duration"), f"{field}.duration")
        check.require(duration > timedelta(0), f"{field}.duration", "must be positive")
        return Window(duration=duration, rolling=True)
    unit = CALENDAR.get(str(window.get("duration")))
    check.require(
        unit is not None,
        f"{field}.duration",
        "a calendar window is 1w, 1M or 1Q (or set isRolling)",
    )
    zone = str(_get(window, "calendar", "timeZone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        check.fail(f"{field}.calendar.timeZone", f"{zone!r} is not an IANA time zone")
    return Window(timedelta(days=unit[1]), rolling=False, calendar_unit=unit[0], time_zone=zone)


# -- alerting ----------------------------------------------------------------------------


def _alerting(check: Checker, policies: Any, annotations: dict) -> Alerting:
    disabled = str(annotations.get(ANNOTATION + "disable-tiers") or "")
    labels = {}
    for key, value in annotations.items():
        if str(key).startswith(ANNOTATION + "tier-labels."):
            tier = str(key).removeprefix(ANNOTATION + "tier-labels.")
            pairs = [p.split("=", 1) for p in str(value).split(",") if p.strip()]
            check.require(
                all(len(p) == 2 for p in pairs), f"metadata.annotations.{key}", "use k=v,k=v"
            )
            labels[tier] = {k.strip(): v.strip() for k, v in pairs}
    tiers = _policy_tiers(check, policies) if policies else None
    return Alerting(
        tiers=tiers,
        disabled=frozenset(t.strip() for t in disabled.split(",") if t.strip()),
        labels=labels,
    )


def _policy_tiers(check: Checker, policies: Any) -> tuple[AlertTier, ...]:
    check.require(isinstance(policies, list), "spec.alertPolicies", "must be a list")
    tiers = []
    for i, policy in enumerate(policies):
        conditions = _get(policy, "spec", "conditions")
        field = f"spec.alertPolicies[{i}]"
        check.require(isinstance(conditions, list), f"{field}.spec.conditions", "must be a list")
        for j, condition in enumerate(conditions):
            tiers.append(_condition_tier(check, condition, f"{field}.spec.conditions[{j}]"))
    return tuple(tiers)


def _condition_tier(check: Checker, condition: Any, field: str) -> AlertTier:
    spec = _get(condition, "spec", "condition") or {}
    check.require(
        spec.get("kind") == "burnrate", f"{field}.spec.condition.kind", "must be burnrate"
    )
    factor = spec.get("threshold")
    check.require(
        isinstance(factor, int | float) and factor > 0,
        f"{field}.spec.condition.threshold",
        "must be a positive burn rate",
    )
    long = check.duration(spec.get("lookbackWindow"), f"{field}.spec.condition.lookbackWindow")
    short = check.duration(spec.get("alertAfter"), f"{field}.spec.condition.alertAfter")
    check.require(
        short < long, f"{field}.spec.condition.alertAfter", "must be shorter than lookbackWindow"
    )
    return AlertTier(
        name=str(_get(condition, "metadata", "name") or field),
        severity=str(_get(condition, "spec", "severity") or "page"),
        factor=float(factor),
        long_window=long,
        short_window=short,
    )


def check_tiers(check: Checker, slo: SloDefinition) -> None:
    """Reject tiers whose windows reach the period or that can never fire."""
    for tier in slo.alerting.tiers or ():
        check.require(
            tier.long_window < slo.window.duration,
            f"alerting.tiers[{tier.name}].long_window",
            f"{tier.long_window} is not shorter than the {slo.window.duration} period",
        )
    for tier in resolve_tiers(slo.alerting, slo.window.duration):
        for i, objective in enumerate(slo.objectives):
            budget = 1.0 - objective.objective_ratio
            check.require(
                tier.factor * budget < 1.0,
                f"alerting.tiers[{tier.name}]",
                f"can never fire: factor {tier.factor:g} x budget {budget:g} >= 1 for "
                f"spec.objectives[{i}]; disable it (metadata.annotations "
                f"{ANNOTATION}disable-tiers) or raise the objective",
            )


def check_objectives(check: Checker, slo: SloDefinition) -> None:
    """A threshold SLI needs an `op` and `value` per objective; a time slice is positive and
    shorter than the period."""
    for i, objective in enumerate(slo.objectives):
        field = f"spec.objectives[{i}]"
        if isinstance(slo.indicator, ThresholdIndicator):
            check.require(
                objective.op is not None,
                f"{field}.op",
                f"a thresholdMetric needs op ({', '.join(OPS)}) and value",
            )
        length = objective.time_slice
        if length is not None:
            ok = timedelta(0) < length < slo.window.duration
            check.require(
                ok,
                f"{field}.timeSliceWindow",
                f"{format_duration(length)} must be positive and shorter than the "
                f"{format_duration(slo.window.duration)} period",
            )


def _number(check: Checker, annotations: dict, key: str, default: float, low, high) -> float:
    text = annotations.get(ANNOTATION + key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    check.require(
        low <= value <= high,
        f"metadata.annotations.{ANNOTATION}{key}",
        f"must be a number in [{low}, {high}]",
    )
    return value
