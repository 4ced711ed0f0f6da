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

Only rolling Occurrences SLOs on ratio SLIs have an equivalent in rules; others are left out
with a warning (Timeslices need per-slice state that recording rules do not keep).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import yaml

from slopipe.slo import promql
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.durations import format_duration
from slopipe.slo.evaluate import BURN_WINDOWS
from slopipe.slo.model import RatioIndicator, SloDefinition

log = logging.getLogger(__name__)

PREFIX = "slopipe:slo_"
PERIOD_STEP = "5m"
ALERT = "SLOErrorBudgetBurn"


def exportable(slo: SloDefinition) -> str | None:
    """Why an SLO has no rules equivalent, or None when it has one."""
    if not isinstance(slo.indicator, RatioIndicator):
        return "threshold SLIs have no rules equivalent"
    if slo.budgeting_method != "Occurrences":
        return f"{slo.budgeting_method} has no rules equivalent"
    if not slo.window.rolling:
        return "calendar windows have no rules equivalent"
    return None


def rule_groups(slos: list[SloDefinition]) -> dict:
    """The rules file (as data) for every exportable SLO, one group per SLO."""
    groups = []
    for slo in sorted(slos, key=lambda s: s.name):
        reason = exportable(slo)
        if reason:
            log.warning("slo %s: left out of the Prometheus rules: %s", slo.name, reason)
            continue
        groups.append({"name": f"slopipe-{slo.name}", "rules": _rules(slo)})
    return {"groups": groups}


class _Dumper(yaml.SafeDumper):
    """Multi-line PromQL as YAML block scalars (`|`), as people write rules files."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(slos: list[SloDefinition]) -> str:
    return yaml.dump(rule_groups(slos), Dumper=_Dumper, sort_keys=False, width=1000)


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
        rules += [_ratio_rule(slo, w, labels) for w in windows]
        rules += _period_rules(slo, objective.objective_ratio, labels)
        rules += [_alert(slo, tier, objective.objective_ratio, labels) for tier in tiers]
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
    ratio = f"{PREFIX}error_ratio:period"
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
        {
            "record": ratio,
            "expr": f"sum_over_time({errors}{match}[{period}])\n/\n"
            f"sum_over_time({requests}{match}[{period}])",
            "labels": dict(labels),
        },
        {
            "record": f"{PREFIX}error_budget_remaining:ratio",
            "expr": f"1 - {ratio}{match} / {_number(1 - objective_ratio)}",
            "labels": dict(labels),
        },
    ]


def _alert(slo: SloDefinition, tier, objective_ratio: float, labels: dict) -> dict:
    threshold = _number(tier.factor * (1 - objective_ratio))
    match = _match(labels)
    long, short = format_duration(tier.long_window), format_duration(tier.short_window)
    expr = (
        f"{PREFIX}error_ratio:rate{long}{match} > {threshold}\n"
        f"and\n{PREFIX}error_ratio:rate{short}{match} > {threshold}"
    )
    if slo.min_events > 0:
        increase = promql.total_increase(slo.indicator, long)
        expr += f"\nand on()\n{increase} >= {_number(slo.min_events)}"
    return {
        "alert": ALERT,
        "expr": expr,
        "labels": {**labels, "severity": tier.severity, "tier": tier.name, **tier.labels},
        "annotations": {
            "summary": f"SLO {slo.name} burns its error budget over {_number(tier.factor)}x "
            f"too fast ({long} and {short} windows)",
        },
    }


def _number(value: float) -> str:
    return f"{round(value, 12):.12g}"
