"""OpenSLO v1 loader: YAML documents of kind SLO (inline indicator) to `SloDefinition`.

Errors name the SLO and the field, e.g. `slo checkout-latency: spec.objectives[0].target:
must be between 0 and 1 exclusive (100 % leaves no error budget)`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from slopipe.errors import InputError, SloValidationError
from slopipe.slo.model import (
    MetricSource,
    Objective,
    RatioIndicator,
    SloDefinition,
    ThresholdIndicator,
    Window,
)

API_VERSION = "openslo/v1"
OPS = ("lt", "lte", "gt", "gte")
METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
_DURATION = re.compile(r"^(\d+)([smhdwMQY])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """An OpenSLO duration such as `5m`, `28d` or `1w` (months and years are calendar-only)."""
    match = _DURATION.match(str(text).strip())
    if not match or match.group(2) not in _UNIT:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 1h, 28d or 1w")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def load_file(path: Path) -> list[tuple[SloDefinition, dict]]:
    """Every SLO document in a YAML file, parsed and as written."""
    if not path.is_file():
        raise InputError(f"{path}: SLO file not found")
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    slos = [
        (parse_slo(doc, where=f"{path}: document {i + 1}"), doc) for i, doc in enumerate(documents)
    ]
    if not slos:
        raise InputError(f"{path}: holds no document of kind SLO")
    return slos


def parse_slo(doc: Any, where: str = "document") -> SloDefinition:
    """One OpenSLO v1 SLO document as an `SloDefinition`."""
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a mapping with apiVersion, kind, metadata, spec")
    name = _get(doc, "metadata", "name") or "<unnamed>"
    check = _Checker(str(name))
    check.equal(doc.get("apiVersion"), API_VERSION, "apiVersion")
    check.equal(doc.get("kind"), "SLO", "kind")
    check.require(isinstance(_get(doc, "metadata", "name"), str), "metadata.name", "is required")
    spec = doc.get("spec")
    check.require(isinstance(spec, dict), "spec", "is required and must be a mapping")
    method = spec.get("budgetingMethod")
    check.require(method in METHODS, "spec.budgetingMethod", f"must be one of {', '.join(METHODS)}")
    objectives = _objectives(check, spec.get("objectives"), method)
    return SloDefinition(
        name=str(name),
        service=str(spec.get("service") or ""),
        description=str(spec.get("description") or ""),
        indicator=_indicator(check, spec.get("indicator")),
        objectives=objectives,
        window=_window(check, spec.get("timeWindow")),
        budgeting_method=method,
        labels={str(k): str(v) for k, v in (_get(doc, "metadata", "labels") or {}).items()},
    )


class _Checker:
    def __init__(self, slo: str):
        self.slo = slo

    def fail(self, field: str, problem: str) -> None:
        raise SloValidationError(self.slo, field, problem)

    def require(self, ok: bool, field: str, problem: str) -> None:
        if not ok:
            self.fail(field, problem)

    def equal(self, got: Any, expected: str, field: str) -> None:
        self.require(got == expected, field, f"is {got!r}, expected {expected!r}")


def _get(doc: dict, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _indicator(check: _Checker, indicator: Any) -> ThresholdIndicator | RatioIndicator:
    spec = _get(indicator, "spec")
    check.require(isinstance(spec, dict), "spec.indicator.spec", "an inline indicator is required")
    if "thresholdMetric" in spec:
        field = "spec.indicator.spec.thresholdMetric"
        return ThresholdIndicator(_source(check, spec["thresholdMetric"], field))
    if "ratioMetric" in spec:
        return _ratio(check, spec["ratioMetric"])
    check.fail("spec.indicator.spec", "needs thresholdMetric or ratioMetric")
    raise AssertionError("unreachable")


def _ratio(check: _Checker, ratio: Any) -> RatioIndicator:
    field = "spec.indicator.spec.ratioMetric"
    check.require(isinstance(ratio, dict), field, "must be a mapping")
    check.require("total" in ratio, f"{field}.total", "is required")
    check.require(("good" in ratio) != ("bad" in ratio), field, "needs exactly one of good, bad")
    good = _source(check, ratio["good"], f"{field}.good") if "good" in ratio else None
    bad = _source(check, ratio["bad"], f"{field}.bad") if "bad" in ratio else None
    total = _source(check, ratio["total"], f"{field}.total")
    numerator = good or bad
    check.require(numerator != total, field, "good or bad must differ from total")
    return RatioIndicator(total=total, good=good, bad=bad, counter=bool(ratio.get("counter", True)))


def _source(check: _Checker, metric: Any, field: str) -> MetricSource:
    source = _get(metric, "metricSource")
    check.require(isinstance(source, dict), f"{field}.metricSource", "is required")
    kind, spec = source.get("type"), source.get("spec") or {}
    if kind == "lake":
        series = spec.get("series")
        check.require(bool(series), f"{field}.metricSource.spec.series", "names no series")
        return MetricSource("lake", series=str(series))
    if kind == "prometheus":
        query = spec.get("query")
        check.require(bool(query), f"{field}.metricSource.spec.query", "holds no PromQL query")
        return MetricSource("prometheus", query=str(query))
    check.fail(f"{field}.metricSource.type", f"is {kind!r}; use lake or prometheus")
    raise AssertionError("unreachable")


def _objectives(check: _Checker, objectives: Any, method: str) -> tuple[Objective, ...]:
    check.require(
        isinstance(objectives, list) and objectives, "spec.objectives", "needs at least one"
    )
    return tuple(
        _objective(check, o, f"spec.objectives[{i}]", method) for i, o in enumerate(objectives)
    )


def _objective(check: _Checker, obj: Any, field: str, method: str) -> Objective:
    check.require(isinstance(obj, dict), field, "must be a mapping")
    ratio = _target(check, obj, field)
    op, threshold = obj.get("op"), obj.get("value")
    if op is not None:
        check.require(op in OPS, f"{field}.op", f"is {op!r}; use one of {', '.join(OPS)}")
        check.require(isinstance(threshold, int | float), f"{field}.value", "must be a number")
    time_slice = None
    if method in ("Timeslices", "RatioTimeslices"):
        text = obj.get("timeSliceWindow")
        check.require(text is not None, f"{field}.timeSliceWindow", f"is required by {method}")
        try:
            time_slice = parse_duration(text)
        except ValueError as err:
            check.fail(f"{field}.timeSliceWindow", str(err))
    slice_target = obj.get("timeSliceTarget")
    if slice_target is not None:
        ok = isinstance(slice_target, int | float) and 0 < slice_target <= 1
        check.require(ok, f"{field}.timeSliceTarget", "must be in (0, 1]")
    return Objective(
        objective_ratio=ratio,
        name=str(obj.get("displayName") or ""),
        op=op,
        threshold=float(threshold) if threshold is not None else None,
        time_slice=time_slice,
        time_slice_target=float(slice_target) if slice_target is not None else None,
    )


def _target(check: _Checker, obj: dict, field: str) -> float:
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
    return float(value) / scale


def _window(check: _Checker, windows: Any) -> Window:
    ok = isinstance(windows, list) and len(windows) == 1 and isinstance(windows[0], dict)
    check.require(ok, "spec.timeWindow", "needs exactly one window")
    window = windows[0]
    try:
        duration = parse_duration(window.get("duration"))
    except ValueError as err:
        check.fail("spec.timeWindow[0].duration", str(err))
    rolling = bool(window.get("isRolling", False))
    # TODO: calendar windows (week, month, quarter in a time zone) arrive with issue 4.
    check.require(rolling, "spec.timeWindow[0].isRolling", "only rolling windows are supported yet")
    return Window(duration=duration, rolling=True)
