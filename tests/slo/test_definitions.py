"""Loading and validating SLO definitions: OpenSLO kinds and references, Sloth, exports."""

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from slopipe.errors import InputError, SloValidationError
from slopipe.slo import documents
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.export import export
from slopipe.slo.openslo import parse_slo

DATA = Path(__file__).parent / "data"
GAUGE = {"metricSource": {"type": "lake", "spec": {"series": "cpu"}}}


def base() -> dict:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "api", "annotations": {}},
        "spec": {
            "service": "shop",
            "indicator": {
                "spec": {"ratioMetric": {"bad": source("errors"), "total": source("requests")}}
            },
            "timeWindow": [{"duration": "30d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": 0.999}],
        },
    }


def condition(lookback="1h", after="5m", threshold=14.4):
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": "c"},
                    "spec": {
                        "severity": "page",
                        "condition": {
                            "kind": "burnrate",
                            "op": "gte",
                            "threshold": threshold,
                            "lookbackWindow": lookback,
                            "alertAfter": after,
                        },
                    },
                }
            ]
        },
    }


def edit(path: str, value):
    def apply(doc):
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return apply


def slices(length: str):
    def apply(doc):
        doc["spec"]["budgetingMethod"] = "Timeslices"
        doc["spec"]["objectives"] = [{"target": 0.99, "timeSliceWindow": length}]

    return apply


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (
            edit("spec.objectives.0", {"target": 1.0}),
            "spec.objectives[0].target",
            "100% leaves no budget",
        ),
        (
            edit("spec.objectives.0", {"targetPercent": 100}),
            "spec.objectives[0].targetPercent",
            "exclusive",
        ),
        (edit("spec.objectives.0", {"target": 0}), "spec.objectives[0].target", "exclusive"),
        # 90% with the 30d catalogue: 14.4 x 0.1 = 1.44 >= 1, the error ratio cannot exceed 1.
        (
            edit("spec.objectives.0", {"target": 0.9}),
            "alerting.tiers[page-fast]",
            "can never fire: factor 14.4 x budget 0.1",
        ),
        (
            edit("spec.alertPolicies", [condition(lookback="30d", after="1h")]),
            "alerting.tiers[c].long_window",
            "not shorter than the 30 days",
        ),
        (
            edit("spec.alertPolicies", [condition(lookback="1h", after="2h")]),
            "spec.alertPolicies[0].spec.conditions[0].spec.condition.alertAfter",
            "shorter than lookbackWindow",
        ),
        (
            edit("spec.indicator.spec.ratioMetric.bad.metricSource.spec.series", "requests"),
            "spec.indicator.spec.ratioMetric.bad",
            "same as total",
        ),
        (
            edit("spec.indicator.spec.ratioMetric.bad.metricSource.type", "datadog"),
            "spec.indicator.spec.ratioMetric.bad.metricSource.type",
            "use lake or prometheus",
        ),
        (
            edit("spec.timeWindow", [{"duration": "2M", "isRolling": False}]),
            "spec.timeWindow[0].duration",
            "1w, 1M or 1Q",
        ),
        (
            edit("spec.timeWindow", [{"duration": "1M", "calendar": {"timeZone": "Mars/Olympus"}}]),
            "spec.timeWindow[0].calendar.timeZone",
            "not an IANA time zone",
        ),
        (edit("spec.budgetingMethod", "Average"), "spec.budgetingMethod", "must be one of"),
        (
            edit("metadata.annotations", {"slopipe.io/min-coverage": "2"}),
            "metadata.annotations.slopipe.io/min-coverage",
            "in [0, 1]",
        ),
        # A gauge without op and value has nothing to be compared with.
        (
            edit("spec.indicator.spec", {"thresholdMetric": GAUGE}),
            "spec.objectives[0].op",
            "a thresholdMetric needs op (lt, lte, gt, gte) and value",
        ),
        (
            edit("spec.objectives.0", {"target": 0.99, "op": "lt", "value": True}),
            "spec.objectives[0].value",
            "must be a number",
        ),
        (
            slices("0m"),
            "spec.objectives[0].timeSliceWindow",
            "0d must be positive and shorter than the 30d period",
        ),
        (slices("30d"), "spec.objectives[0].timeSliceWindow", "30d must be positive"),
    ],
)
def test_invalid_definitions_are_rejected_naming_the_slo_and_the_field(change, field, problem):
    doc = base()
    change(doc)
    with pytest.raises(SloValidationError) as caught:
        parse_slo(doc)
    assert caught.value.slo == "api" and caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"slo api: {field}: ")


def test_a_tier_that_cannot_fire_is_accepted_once_disabled():
    doc = base()
    doc["spec"]["objectives"] = [{"target": 0.9}]
    doc["metadata"]["annotations"] = {"slopipe.io/disable-tiers": "page-fast"}
    slo = parse_slo(doc)  # page-slow: 6 x 0.1 = 0.6 < 1 can fire
    assert [t.name for t in resolve_tiers(slo.alerting, slo.window.duration)] == [
        "page-slow",
        "ticket-fast",
        "ticket-slow",
    ]


def test_openslo_references_are_inlined():
    items = documents.load_file(DATA / "checkout.openslo.yaml")
    by_name = {d.name: (d, doc) for d, doc in items}
    assert sorted(by_name) == ["checkout-availability", "checkout-availability-monthly"]
    slo, doc = by_name["checkout-availability"]
    assert (
        slo.indicator.bad.series == "http_errors_total"
        and slo.indicator.total.series == "http_requests_total"
    )
    [tier] = slo.alerting.tiers
    assert (tier.name, tier.factor, tier.long_window, tier.short_window) == (
        "fast-burn",
        14.4,
        timedelta(hours=1),
        timedelta(minutes=5),
    )
    # The stored document stands alone: no references left in it.
    text = yaml.safe_dump(doc)
    assert "Ref" not in text and doc["spec"]["indicator"]["metadata"]["name"] == "checkout-errors"
    monthly, _ = by_name["checkout-availability-monthly"]
    assert (monthly.window.calendar_unit, monthly.window.time_zone) == ("month", "Europe/Berlin")
    assert monthly.alerting.disabled == {"ticket-slow"}


@pytest.mark.parametrize(
    ("kind", "ref_path", "field"),
    [
        ("SLI", ("spec", "indicatorRef"), "spec.indicatorRef"),
        ("DataSource", None, "spec.indicator.spec.*.metricSource.metricSourceRef"),
        ("AlertPolicy", None, "spec.alertPolicies[0]"),
    ],
)
def test_a_reference_to_an_undefined_document_is_rejected(kind, ref_path, field):
    docs = list(yaml.safe_load_all((DATA / "checkout.openslo.yaml").read_text()))
    docs = [d for d in docs if d["kind"] != kind]
    with pytest.raises(SloValidationError) as caught:
        documents.parse_documents(docs, "test")
    assert caught.value.field == field and f"{kind} " in caught.value.problem


@pytest.mark.parametrize("kind", ["SLO", "SLI"])
def test_two_documents_of_one_kind_and_name_are_refused_not_merged(kind):
    docs = list(yaml.safe_load_all((DATA / "checkout.openslo.yaml").read_text()))
    first = next(i for i, d in enumerate(docs) if d["kind"] == kind)
    docs.append(docs[first])
    name = docs[first]["metadata"]["name"]
    with pytest.raises(
        InputError, match=rf"document {len(docs)}: {kind} '{name}' is defined twice"
    ):
        documents.parse_documents(docs, "test")


def test_an_openslo_slo_and_a_sloth_slo_of_one_name_are_refused():
    [(sloth_slo, sloth_doc)] = documents.load_file(DATA / "sloth.yaml")
    spec = yaml.safe_load((DATA / "sloth.yaml").read_text())
    with pytest.raises(InputError, match=f"SLO '{sloth_slo.name}' is defined twice"):
        documents.parse_documents([spec, sloth_doc], "test")


def test_a_sloth_spec_becomes_an_openslo_slo():
    [(slo, doc)] = documents.load_file(DATA / "sloth.yaml")
    assert slo.name == "myservice-requests-availability"
    assert slo.objectives[0].objective_ratio == pytest.approx(0.999)
    assert slo.window.duration == timedelta(days=30) and slo.budgeting_method == "Occurrences"
    assert 'code=~"(5..|429)"' in slo.indicator.bad.query
    assert slo.labels == {"owner": "myteam"}
    tiers = resolve_tiers(slo.alerting, slo.window.duration)
    assert [t.name for t in tiers] == ["page-fast", "page-slow"]  # ticket_alert disabled
    assert tiers[0].labels == {"category": "availability", "severity": "pageteam"}


def test_a_sloth_spec_with_equal_queries_is_rejected():
    spec = yaml.safe_load((DATA / "sloth.yaml").read_text())
    events = spec["slos"][0]["sli"]["events"]
    events["error_query"] = events["total_query"]
    with pytest.raises(
        SloValidationError,
        match=r"slo myservice-requests-availability: slos\[0\].sli.events.error_query: is the same",
    ):
        documents.parse_documents([spec], "test")


def test_a_file_of_unknown_documents_is_refused(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(InputError, match="neither OpenSLO v1"):
        documents.load_file(path)


@pytest.mark.parametrize("fmt", ["openslo", "sloth"])
def test_exports_load_back_to_the_same_definitions(tmp_path, fmt):
    items = documents.load_file(DATA / "sloth.yaml") + [(parse_slo(base()), base())]
    path = tmp_path / f"out.{fmt}.yaml"
    path.write_text(export(items, fmt))
    again = {d.name: d for d, _ in documents.load_file(path)}
    for slo, _ in items:
        back = again[
            slo.name
            if fmt == "openslo"
            else f"{slo.service}-{slo.name.removeprefix(slo.service + '-')}"
        ]
        ratios = [o.objective_ratio for o in back.objectives]
        assert ratios == [o.objective_ratio for o in slo.objectives] and back.window == slo.window
        if fmt == "openslo":
            assert back == slo
