"""Write stored SLOs back out: OpenSLO documents, a Sloth spec, or Prometheus rules."""

from __future__ import annotations

import logging
from itertools import groupby

import yaml

from slopipe.errors import SloError
from slopipe.slo import promql, promrules
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.durations import format_duration
from slopipe.slo.model import RatioIndicator, SloDefinition

log = logging.getLogger(__name__)

FORMATS = ("openslo", "sloth", "prometheus-rules")


def export(
    items: list[tuple[SloDefinition, dict]], fmt: str, lake_series: list[str] | None = None
) -> str:
    """`items` are (definition, self-contained OpenSLO document) pairs; `lake_series`, the
    lake's series names, tell how the lake spells bucket bounds (for the rules)."""
    if fmt == "openslo":
        return openslo_yaml([doc for _, doc in items])
    if fmt == "sloth":
        return sloth_yaml([d for d, _ in items])
    if fmt == "prometheus-rules":
        slos = [d for d, _ in items]
        return promrules.to_yaml(slos, bucket_spellings(slos, lake_series or []))
    raise SloError(f"export format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")


def bucket_spellings(slos: list[SloDefinition], names: list[str]) -> dict:
    """Per histogram bucket source, how the lake's series spell its bound ("0.30")."""
    from slopipe.slo.sources import bucket_series, parse_series

    return {
        source: {parse_series(name)[1]["le"] for name in bucket_series(source, names)}
        for slo in slos
        for source in slo.sources()
        if source.le is not None and source.type == "lake"
    }


def openslo_yaml(documents: list[dict]) -> str:
    """A Service document per service, then every SLO, as one multi-document file."""
    services = sorted({str(d.get("spec", {}).get("service") or "") for d in documents} - {""})
    service_docs = [
        {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": s}, "spec": {}}
        for s in services
    ]
    return yaml.safe_dump_all([*service_docs, *documents], sort_keys=False, width=100)


def sloth_yaml(slos: list[SloDefinition]) -> str:
    """One Sloth `prometheus/v1` spec per service, for SLOs Sloth can express."""
    specs = []
    kept = [s for s in slos if _sloth_refusal(s) is None]
    for slo in sorted(slos, key=lambda s: s.name):
        if (reason := _sloth_refusal(slo)) is not None:
            log.warning("slo %s: left out of the Sloth spec: %s", slo.name, reason)
    for service, group in groupby(
        sorted(kept, key=lambda s: (s.service, s.name)), lambda s: s.service
    ):
        specs.append(
            {
                "version": "prometheus/v1",
                "service": service or "default",
                "slos": [_sloth_slo(s) for s in group],
            }
        )
    return yaml.safe_dump_all(specs, sort_keys=False, width=100)


def _sloth_refusal(slo: SloDefinition) -> str | None:
    """Why Sloth cannot express an SLO: it takes events (ratio SLIs) on a rolling period."""
    if not isinstance(slo.indicator, RatioIndicator):
        return "Sloth's SLIs are event ratios, not gauges against a threshold"
    if not slo.window.rolling:
        return "Sloth's periods are rolling, not calendar ones"
    if slo.budgeting_method != "Occurrences":
        return f"Sloth counts Occurrences, not {slo.budgeting_method}"
    if (error := promrules.refusal(slo)) is not None:
        return error.problem.split(";")[0]
    if len(slo.objectives) != 1:
        return "Sloth takes one objective per SLO"
    return None


def _sloth_slo(slo: SloDefinition) -> dict:
    if format_duration(slo.window.duration) != "30d":
        log.warning(
            "slo %s: Sloth's period is set per run; this SLO's is %s",
            slo.name,
            format_duration(slo.window.duration),
        )
    # Sloth has one page and one ticket alert (each two windows): on when any tier of
    # that severity is.
    severities = {t.severity for t in resolve_tiers(slo.alerting, slo.window.duration)}
    name = slo.name.removeprefix(f"{slo.service}-") if slo.service else slo.name
    window = promql.WINDOW
    return {
        "name": name,
        "objective": round(slo.objectives[0].objective_ratio * 100, 10),
        "description": slo.description,
        "labels": dict(slo.labels),
        "sli": {
            "events": {
                "error_query": promql.error_rate(slo.indicator, window),
                "total_query": promql.rate(slo.indicator.total, window),
            }
        },
        "alerting": {
            "name": f"{slo.name}-burn",
            "page_alert": {"disable": "page" not in severities},
            "ticket_alert": {"disable": "ticket" not in severities},
        },
    }
