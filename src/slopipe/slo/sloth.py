"""Sloth's `prometheus/v1` spec, mapped to self-contained OpenSLO SLO documents.

Each Sloth SLO becomes `<service>-<name>`, a 30-day rolling Occurrences SLO (Sloth's
default period) whose bad and total sources are the `error_query` and `total_query`
PromQL, with `{{.window}}` kept for slopipe to fill in. `page_alert`/`ticket_alert` map to
the catalogue's page and ticket tiers: `disable` switches both tiers of the kind off and
`labels` are added to their alerts. `sli.raw` and `sli.plugin` are refused: they have no
event counts, so no ratio of sums can be made from them.
"""

from __future__ import annotations

from slopipe.errors import SloValidationError
from slopipe.slo.openslo import ANNOTATION, API_VERSION

VERSION = "prometheus/v1"
PERIOD = "30d"
KIND_TIERS = {
    "page_alert": ("page-fast", "page-slow"),
    "ticket_alert": ("ticket-fast", "ticket-slow"),
}


def is_sloth(doc: dict) -> bool:
    return doc.get("version") == VERSION


def to_openslo(spec: dict) -> list[dict]:
    service = str(spec.get("service") or "")
    if not service:
        raise SloValidationError("<sloth spec>", "service", "is required")
    slos = spec.get("slos")
    if not isinstance(slos, list) or not slos:
        raise SloValidationError(service, "slos", "needs at least one SLO")
    labels = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    return [_slo(service, labels, slo, i) for i, slo in enumerate(slos)]


def _slo(service: str, labels: dict, slo: dict, i: int) -> dict:
    name = f"{service}-{slo.get('name')}"
    events = (slo.get("sli") or {}).get("events")
    if not isinstance(events, dict):
        raise SloValidationError(
            name,
            f"slos[{i}].sli",
            "only sli.events is supported (raw and plugin SLIs carry no counts)",
        )
    for key in ("error_query", "total_query"):
        if not events.get(key):
            raise SloValidationError(name, f"slos[{i}].sli.events.{key}", "is required")
    if "".join(str(events["error_query"]).split()) == "".join(str(events["total_query"]).split()):
        raise SloValidationError(
            name, f"slos[{i}].sli.events.error_query", "is the same as total_query"
        )
    return {
        "apiVersion": API_VERSION,
        "kind": "SLO",
        "metadata": {
            "name": name,
            "labels": {**labels, **{str(k): str(v) for k, v in (slo.get("labels") or {}).items()}},
            "annotations": _annotations(slo.get("alerting") or {}),
        },
        "spec": {
            "service": service,
            "description": str(slo.get("description") or ""),
            "indicator": {
                "metadata": {"name": f"{name}-sli"},
                "spec": {
                    "ratioMetric": {
                        "counter": True,
                        "bad": _query(events["error_query"]),
                        "total": _query(events["total_query"]),
                    }
                },
            },
            "timeWindow": [{"duration": PERIOD, "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [
                {"displayName": str(slo.get("name")), "targetPercent": slo.get("objective")}
            ],
        },
    }


def _query(query: str) -> dict:
    return {"metricSource": {"type": "prometheus", "spec": {"query": str(query).strip()}}}


def _annotations(alerting: dict) -> dict:
    annotations, disabled = {}, []
    for kind, tiers in KIND_TIERS.items():
        options = alerting.get(kind) or {}
        if options.get("disable"):
            disabled += tiers
        labels = {**(alerting.get("labels") or {}), **(options.get("labels") or {})}
        for tier in tiers:
            if labels:
                text = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                annotations[f"{ANNOTATION}tier-labels.{tier}"] = text
    if disabled:
        annotations[f"{ANNOTATION}disable-tiers"] = ",".join(disabled)
    return annotations
