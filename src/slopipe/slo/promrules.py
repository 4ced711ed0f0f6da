"""Prometheus recording and alerting rules equivalent to slopipe's SLO evaluation.

Per SLO objective, labelled `slo`, `objective` (its index) and `service`:

    slopipe:slo_error_ratio:rate<w>          bad/total within each alert window w
    slopipe:slo_errors:rate5m                bad events per second over 5m
    slopipe:slo_requests:rate5m              all events per second over 5m
    slopipe:slo_error_ratio:period           sum_over_time(errors)/sum_over_time(requests)
                                             over the SLO period: a ratio of sums
    slopipe:slo_error_budget_remaining:ratio 1 - period ratio / (1 - objective)
    alert SLOErrorBudgetBurn                 one rule per tier: both windows above
                                             factor * (1 - objective), and at least the
                                             SLO's minimum events in the long window

Sloth's period ratio is `sum_over_time(ratio_rate5m[30d]) / count_over_time(...)`, the mean
of 5-minute ratios: a quiet night's 5 minutes weigh as much as a peak hour's. Here the
errors and the requests are summed separately and divided once.

Threshold SLIs (a gauge such as `up`, or a utilisation against a bound) count bad seconds.
Their group is evaluated every `THRESHOLD_INTERVAL`, and per objective

    slopipe:slo_error:bool                   1 where the gauge breaks the objective, else 0
                                             (max over the selected series)
    slopipe:slo_error_ratio:rate<w>          avg_over_time(error:bool[w]): bad time share
    slopipe:slo_error_ratio:period           avg_over_time(error:bool[period])

Each recording stands for one interval of the gauge's latest sample (Prometheus looks back
5 minutes, as slopipe holds a sample at most 5 minutes), so the average weighs time, not
samples.

Timeslices and RatioTimeslices sum their slices as the steps of a subquery (`promslices`):
the same window shares and period share, exact at slice boundaries. A threshold SLI's slice
is judged on its raw samples (Timeslices, every sample good).

A calendar SLO gets its burn-rate recordings and alerts (those windows are rolling in
slopipe too) but no period ratio or budget: no PromQL range starts at the 1st of a month.
A YAML comment heads its group and a warning names it.

SLOs with no equivalent are refused, naming the SLO and the field (`refusal`): a rule that
silently counts something else would be worse than none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

import yaml

from slopipe.errors import SloValidationError
from slopipe.slo import promql, promslices
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.durations import format_duration
from slopipe.slo.evaluate import BURN_WINDOWS
from slopipe.slo.model import (
    MetricSource,
    Objective,
    RatioIndicator,
    SloDefinition,
    ThresholdIndicator,
)

log = logging.getLogger(__name__)

PREFIX = "slopipe:slo_"
PERIOD_STEP = "5m"
ALERT = "SLOErrorBudgetBurn"
#: Spellings of a histogram bucket source's bound found in the lake.
Spellings = Mapping[MetricSource, set[str]]
#: Evaluation interval of threshold SLOs' groups: each recording weighs this long.
THRESHOLD_INTERVAL = timedelta(minutes=1)
#: Prometheus' default lookback: how long a gauge sample holds in a rule's evaluation.
LOOKBACK = timedelta(minutes=5)
#: Calendar periods start at local midnight, whose UTC offset is a multiple of 15 minutes
#: in every time zone: slices dividing it fall on multiples of their length.
CALENDAR_SLICES = timedelta(minutes=15)
_HINT = "; export it with --format openslo, or name the other SLOs to export them alone"


def refusal(slo: SloDefinition) -> SloValidationError | None:
    """Why an SLO has no rules equivalent (naming the field), or None when it has one."""
    if slo.budgeting_method != "Occurrences" and (error := _slices_refusal(slo)):
        return error
    if isinstance(slo.indicator, ThresholdIndicator):
        return _threshold_refusal(slo, slo.indicator)
    if not slo.indicator.counter:
        return SloValidationError(
            slo.name,
            "spec.indicator.spec.ratioMetric.counter",
            "false: the rules take rate() of counters; for series that are not counters "
            "that would count something else" + _HINT,
        )
    return None


def _slices_refusal(slo: SloDefinition) -> SloValidationError | None:
    """Timeslices need slices that fall on multiples of their length; a gauge's, a verdict
    a rule can reach from raw samples (every sample good)."""
    if isinstance(slo.indicator, ThresholdIndicator):
        if (error := _gauge_slices_refusal(slo)) is not None:
            return error
    for index, objective in enumerate(slo.objectives):
        length = format_duration(objective.time_slice)
        field = f"spec.objectives[{index}].timeSliceWindow"
        if slo.window.rolling and slo.window.duration % objective.time_slice:
            period = format_duration(slo.window.duration)
            problem = (
                f"{length} slices do not divide the {period} period, so slopipe's slices "
                "do not fall on multiples of their length as a subquery's steps do" + _HINT
            )
            return SloValidationError(slo.name, field, problem)
        if not slo.window.rolling and CALENDAR_SLICES % objective.time_slice:
            problem = (
                f"{length} slices of a calendar period start at local midnight, which falls "
                "on a multiple of their length only for slices dividing 15m" + _HINT
            )
            return SloValidationError(slo.name, field, problem)
    return None


def _gauge_slices_refusal(slo: SloDefinition) -> SloValidationError | None:
    """A rule sees a slice's raw samples only through max/min_over_time: enough to tell
    whether every sample is good (Timeslices' default for gauges), not to count them."""
    if slo.budgeting_method == "RatioTimeslices":
        problem = (
            "RatioTimeslices of a threshold SLI has no Prometheus rules equivalent (no rule "
            "counts the samples of a slice that meet the threshold)" + _HINT
        )
        return SloValidationError(slo.name, "spec.budgetingMethod", problem)
    for index, objective in enumerate(slo.objectives):
        if objective.time_slice_target not in (None, 1.0):
            problem = (
                f"{objective.time_slice_target}: a share of a slice's good samples has no "
                "Prometheus rules equivalent (a rule tells whether every sample of a slice "
                "is good, not how many are)" + _HINT
            )
            field = f"spec.objectives[{index}].timeSliceTarget"
            return SloValidationError(slo.name, field, problem)
    if slo.indicator.source.type != "lake":
        problem = (
            "a PromQL query under Timeslices has no rules equivalent (a slice's samples need "
            "a series selector); give the gauge as a lake series" + _HINT
        )
        field = "spec.indicator.spec.thresholdMetric.metricSource.type"
        return SloValidationError(slo.name, field, problem)
    return None


def _threshold_refusal(slo: SloDefinition, indicator: ThresholdIndicator):
    field = "spec.indicator.spec.thresholdMetric.metricSource"
    if indicator.source.le is not None:
        problem = "a histogram bucket is a counter, not a gauge to compare" + _HINT
        return SloValidationError(slo.name, f"{field}.spec.le", problem)
    if indicator.source.type == "prometheus" and promql.WINDOW in str(indicator.source.query):
        problem = f"a query over {promql.WINDOW} is a rate, not a gauge to compare" + _HINT
        return SloValidationError(slo.name, f"{field}.spec.query", problem)
    if indicator.max_sample_gap != LOOKBACK:
        held = format_duration(indicator.max_sample_gap)
        problem = f"samples held {held} differ from Prometheus' 5m lookback" + _HINT
        return SloValidationError(slo.name, field, problem)
    return None


def rule_groups(slos: list[SloDefinition], spelled: Spellings | None = None) -> dict:
    """The rules file (as data), one group per SLO; refuses SLOs without an equivalent.

    `spelled` gives, per histogram bucket source, the spellings of its bound in the lake
    (`0.30`), so the rules select what slopipe reads even where no client writes it so.
    """
    spelled = spelled or {}
    ordered = [_spelled(s, spelled) for s in sorted(slos, key=lambda s: s.name)]
    refused = [e for e in map(refusal, ordered) if e is not None]
    if refused:
        first, others = refused[0], ", ".join(e.slo for e in refused[1:])
        also = f" (also refused: {others})" if others else ""
        raise SloValidationError(first.slo, first.field, first.problem + also)
    groups = []
    for slo in ordered:
        group = {"name": f"slopipe-{slo.name}"}
        if isinstance(slo.indicator, ThresholdIndicator) and slo.budgeting_method == "Occurrences":
            group["interval"] = format_duration(THRESHOLD_INTERVAL)
        if not slo.window.rolling:
            log.warning("slo %s: %s", slo.name, _calendar_note(slo))
        groups.append({**group, "rules": _rules(slo)})
    return {"groups": groups}


def _calendar_note(slo: SloDefinition) -> str:
    window = slo.window
    return (
        f"calendar {window.calendar_unit} ({window.time_zone}): burn rates and alerts "
        "exported, but no period ratio or budget remaining (PromQL ranges are rolling: none "
        f"starts at the {window.calendar_unit}'s first instant); read them from slopipe"
    )


class _Dumper(yaml.SafeDumper):
    """Multi-line PromQL as YAML block scalars (`|`), as people write rules files."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(slos: list[SloDefinition], spelled: Spellings | None = None) -> str:
    """The rules file; a calendar SLO's group is headed by a comment on what it lacks."""
    text = yaml.dump(rule_groups(slos, spelled), Dumper=_Dumper, sort_keys=False, width=1000)
    for slo in slos:
        if not slo.window.rolling:
            head = f"- name: slopipe-{slo.name}\n"
            text = text.replace(head, f"# slopipe-{slo.name}: {_calendar_note(slo)}\n{head}", 1)
    return text


def _spelled(slo: SloDefinition, spelled: Spellings) -> SloDefinition:
    """The SLO with its bucket sources as selectors that match the lake's spellings."""
    indicator = slo.indicator
    if not isinstance(indicator, RatioIndicator) or not spelled:
        return slo

    def one(source: MetricSource | None) -> MetricSource | None:
        if source is None or source.le is None or not spelled.get(source):
            return source
        return MetricSource("prometheus", query=promql.selector(source, spelled[source]))

    parts = {"good": one(indicator.good), "bad": one(indicator.bad), "total": one(indicator.total)}
    return replace(slo, indicator=replace(indicator, **parts))


def _rules(slo: SloDefinition) -> list[dict]:
    rules = []
    tiers = resolve_tiers(slo.alerting, slo.window.duration)
    windows = sorted(
        {w for w in BURN_WINDOWS if w < slo.window.duration}
        | {t.long_window for t in tiers}
        | {t.short_window for t in tiers}
    )
    for index, objective in enumerate(slo.objectives):
        labels = _labels(slo, index)
        if slo.budgeting_method != "Occurrences":
            rules += _slice_rules(slo, objective, windows, labels)
        elif isinstance(slo.indicator, ThresholdIndicator):
            rules += _threshold_rules(slo, objective, windows, labels)
        else:
            rules += [_ratio_rule(slo, w, labels) for w in windows]
            if slo.window.rolling:
                rules += _period_rules(slo, objective.objective_ratio, labels)
        rules += [_alert(slo, tier, objective, labels) for tier in tiers]
    return rules


def _labels(slo: SloDefinition, index: int) -> dict[str, str]:
    return {"slo": slo.name, "objective": str(index), "service": slo.service}


def _match(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _ratio_rule(slo: SloDefinition, window: timedelta, labels: dict) -> dict:
    w = format_duration(window)
    return {
        "record": f"{PREFIX}error_ratio:rate{w}",
        "expr": promql.error_ratio(slo.indicator, w),
        "labels": dict(labels),
    }


def _period_rules(slo: SloDefinition, objective_ratio: float, labels: dict) -> list[dict]:
    period, match = format_duration(slo.window.duration), _match(labels)
    errors, requests = f"{PREFIX}errors:rate{PERIOD_STEP}", f"{PREFIX}requests:rate{PERIOD_STEP}"
    ratio = (
        f"sum_over_time({errors}{match}[{period}])\n/\nsum_over_time({requests}{match}[{period}])"
    )
    return [
        {
            "record": errors,
            "expr": promql.error_rate(slo.indicator, PERIOD_STEP),
            "labels": dict(labels),
        },
        {
            "record": requests,
            "expr": promql.rate(slo.indicator.total, PERIOD_STEP),
            "labels": dict(labels),
        },
        *_budget_rules(ratio, objective_ratio, labels),
    ]


def _budget_rules(period_ratio: str, objective_ratio: float, labels: dict) -> list[dict]:
    """The period's error ratio (`period_ratio`) and the budget remaining after it."""
    ratio = f"{PREFIX}error_ratio:period"
    return [
        {"record": ratio, "expr": period_ratio, "labels": dict(labels)},
        {
            "record": f"{PREFIX}error_budget_remaining:ratio",
            "expr": f"1 - {ratio}{_match(labels)} / {promql.number(1 - objective_ratio)}",
            "labels": dict(labels),
        },
    ]


def _threshold_rules(slo: SloDefinition, objective: Objective, windows, labels) -> list[dict]:
    """Bad-time shares of a gauge: a 0/1 recording per interval, averaged over each window."""
    error, match = f"{PREFIX}error:bool", _match(labels)
    source = slo.indicator.source
    gauge = promql.selector(source) if source.type == "lake" else f"({source.query})"
    # One series, as slopipe reads one lake series; were there several, bad if any is.
    compare = (
        f"max({gauge} {promql.NEGATED[objective.op]} bool {promql.number(objective.threshold)})"
    )
    shares = [
        {
            "record": f"{PREFIX}error_ratio:rate{format_duration(w)}",
            "expr": f"avg_over_time({error}{match}[{format_duration(w)}])",
            "labels": dict(labels),
        }
        for w in windows
    ]
    rules = [{"record": error, "expr": compare, "labels": dict(labels)}, *shares]
    if slo.window.rolling:
        period = f"avg_over_time({error}{match}[{format_duration(slo.window.duration)}])"
        rules += _budget_rules(period, objective.objective_ratio, labels)
    return rules


def _slice_rules(slo: SloDefinition, objective: Objective, windows, labels) -> list[dict]:
    """Bad-slice shares (Timeslices) or mean slice error ratios (RatioTimeslices)."""
    value, length = promslices.slice_value(slo, objective), objective.time_slice
    rules = [
        {
            "record": f"{PREFIX}error_ratio:rate{format_duration(w)}",
            "expr": promslices.share(value, w, length),
            "labels": dict(labels),
        }
        for w in windows
    ]
    if slo.window.rolling:
        period = promslices.share(value, slo.window.duration, length)
        rules += _budget_rules(period, objective.objective_ratio, labels)
    return rules


def _long_window_events(slo: SloDefinition, objective: Objective, window, labels) -> str:
    """Events in the long window: requests, slices with traffic, or a gauge's seconds."""
    if slo.budgeting_method != "Occurrences":
        traffic = promslices.traffic(slo, objective)
        return promslices.total(traffic, window, objective.time_slice)
    if isinstance(slo.indicator, RatioIndicator):
        return promql.total_increase(slo.indicator, format_duration(window))
    seconds = int(THRESHOLD_INTERVAL.total_seconds())
    counted = f"{PREFIX}error:bool{_match(labels)}[{format_duration(window)}]"
    return f"(count_over_time({counted}) * {seconds})"


def _alert(slo: SloDefinition, tier, objective: Objective, labels: dict) -> dict:
    threshold = promql.number(tier.factor * (1 - objective.objective_ratio))
    match = _match(labels)
    long, short = format_duration(tier.long_window), format_duration(tier.short_window)
    expr = (
        f"{PREFIX}error_ratio:rate{long}{match} > {threshold}\n"
        f"and\n{PREFIX}error_ratio:rate{short}{match} > {threshold}"
    )
    if slo.min_events > 0:
        events = _long_window_events(slo, objective, tier.long_window, labels)
        expr += f"\nand on()\n{events} >= {promql.number(slo.min_events)}"
    return {
        "alert": ALERT,
        "expr": expr,
        "labels": {**labels, "severity": tier.severity, "tier": tier.name, **tier.labels},
        "annotations": {
            "summary": f"SLO {slo.name} burns its error budget over {promql.number(tier.factor)}x "
            f"too fast ({long} and {short} windows)",
        },
    }
