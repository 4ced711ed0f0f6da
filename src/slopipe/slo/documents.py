"""SLO files: OpenSLO v1 documents of every kind, or a Sloth `prometheus/v1` spec, turned
into self-contained OpenSLO SLO documents (every reference inlined) and parsed.

OpenSLO kinds read: SLO, SLI, Service, AlertPolicy, AlertCondition, DataSource. An SLO may
name its indicator (`indicatorRef`), a metric source's DataSource (`metricSourceRef`), its
alert policies (`alertPolicyRef`) and a policy's conditions (`conditionRef`); each name
must be defined in the same file. The stored document is the inlined one, so an SLO in the
store never depends on documents that may change separately.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from slopipe.errors import InputError, SloValidationError, yaml_problem
from slopipe.slo import sloth
from slopipe.slo.model import SloDefinition
from slopipe.slo.openslo import API_VERSION, parse_slo

KINDS = ("SLO", "SLI", "Service", "AlertPolicy", "AlertCondition", "DataSource")


def load_file(path: Path) -> list[tuple[SloDefinition, dict]]:
    """Every SLO in an OpenSLO or Sloth YAML file, parsed, with its inlined document."""
    if not path.is_file():
        raise InputError(f"{path}: SLO file not found")
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML: {yaml_problem(err)}") from None
    slos = parse_documents(documents, where=str(path))
    if not slos:
        raise InputError(f"{path}: holds no SLO (OpenSLO kind SLO, or a Sloth spec)")
    return slos


def parse_documents(documents: list[Any], where: str) -> list[tuple[SloDefinition, dict]]:
    """Parse a file's documents; Sloth specs and OpenSLO documents may be mixed."""
    openslo, inlined = [], []
    for i, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise InputError(f"{where}: document {i + 1}: expected a mapping")
        if sloth.is_sloth(doc):
            inlined += sloth.to_openslo(doc)
        else:
            openslo.append((i, doc))
    inlined += _inline_all(openslo, where)
    names = [d["metadata"]["name"] for d in inlined]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InputError(f"{where}: SLO {duplicate!r} is defined twice")
    return [(parse_slo(doc, where=where), doc) for doc in inlined]


def _inline_all(documents: list[tuple[int, dict]], where: str) -> list[dict]:
    by_kind: dict[str, dict[str, dict]] = {kind: {} for kind in KINDS}
    for i, doc in documents:
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
        if doc.get("apiVersion") != API_VERSION or kind not in KINDS:
            raise InputError(
                f"{where}: document {i + 1}: apiVersion {doc.get('apiVersion')!r} kind "
                f"{kind!r} is neither OpenSLO v1 ({', '.join(KINDS)}) nor Sloth prometheus/v1"
            )
        if not isinstance(name, str):
            raise InputError(f"{where}: document {i + 1}: metadata.name is required")
        if name in by_kind[kind]:
            raise InputError(
                f"{where}: document {i + 1}: {kind} {name!r} is defined twice; "
                "names of one kind must differ"
            )
        by_kind[kind][name] = doc
    return [_inline(doc, by_kind) for doc in by_kind["SLO"].values()]


def _inline(slo: dict, known: dict[str, dict[str, dict]]) -> dict:
    doc = copy.deepcopy(slo)
    name, spec = doc["metadata"]["name"], doc.get("spec") or {}
    ref = spec.pop("indicatorRef", None)
    if ref is not None:
        sli = _lookup(known, "SLI", ref, name, "spec.indicatorRef")
        spec["indicator"] = {"metadata": sli.get("metadata", {}), "spec": sli.get("spec", {})}
    _inline_sources(_get(spec, "indicator", "spec") or {}, known, name)
    if "alertPolicies" in spec:
        spec["alertPolicies"] = [
            _inline_policy(p, known, name, f"spec.alertPolicies[{i}]")
            for i, p in enumerate(spec["alertPolicies"] or [])
        ]
    return doc


def _inline_sources(indicator: dict, known: dict, slo: str) -> None:
    metrics = [indicator.get("thresholdMetric")]
    metrics += [(indicator.get("ratioMetric") or {}).get(k) for k in ("good", "bad", "total")]
    for metric in metrics:
        source = (metric or {}).get("metricSource")
        if not isinstance(source, dict) or "metricSourceRef" not in source:
            continue
        ref = source.pop("metricSourceRef")
        field = "spec.indicator.spec.*.metricSource.metricSourceRef"
        data_source = _lookup(known, "DataSource", ref, slo, field)
        source.setdefault("type", _get(data_source, "spec", "type"))


def _inline_policy(policy: Any, known: dict, slo: str, field: str) -> dict:
    if isinstance(policy, dict) and "alertPolicyRef" in policy:
        policy = _lookup(known, "AlertPolicy", policy["alertPolicyRef"], slo, field)
    policy = copy.deepcopy(policy)
    conditions = _get(policy, "spec", "conditions") or []
    for j, condition in enumerate(conditions):
        if isinstance(condition, dict) and "conditionRef" in condition:
            ref_field = f"{field}.spec.conditions[{j}].conditionRef"
            conditions[j] = copy.deepcopy(
                _lookup(known, "AlertCondition", condition["conditionRef"], slo, ref_field)
            )
    return policy


def _lookup(known: dict, kind: str, name: Any, slo: str, field: str) -> dict:
    found = known[kind].get(name)
    if found is None:
        defined = ", ".join(sorted(known[kind])) or "none"
        raise SloValidationError(slo, field, f"{kind} {name!r} is not defined (defined: {defined})")
    return found


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc
