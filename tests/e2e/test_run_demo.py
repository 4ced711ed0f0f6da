"""`slopipe run` on the built-in demo: every stage, checked against the generator itself."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from slopipe.collect import demo
from tests.e2e.conftest import slopipe
from tests.e2e.expected import ratio_bad_share, series_from, threshold_sli

SUMMARY_KEYS = {
    "series",
    "samples",
    "lake_rows",
    "rejected",
    "slos_evaluated",
    "slos_breached",
    "model_uri",
    "model_version",
    "promoted",
    "anomalies",
    "services",
    "service_anomalies",
    "alerts",
}


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return demo.generate()


def test_the_summary_has_every_key_and_counts_the_input(demo_run, generated):
    assert SUMMARY_KEYS <= demo_run.keys()
    assert demo_run["series"] == 4
    assert demo_run["samples"] == len(generated)
    assert demo_run["lake_rows"] == len(generated)
    assert demo_run["rejected"] == 0
    assert demo_run["counter_resets"] == 4  # two exporter restarts x two counters


def test_each_slo_has_the_sli_worked_out_from_the_generated_series(demo_run, generated):
    slos = {s["name"]: s for s in demo_run["slos"]}
    latency = threshold_sli(series_from(generated, "http_latency_p99_seconds"), "lte", 0.3)
    cpu = threshold_sli(series_from(generated, "cpu_utilization"), "lt", 0.9)
    bad_share = ratio_bad_share(
        series_from(generated, "http_errors_total"), series_from(generated, "http_requests_total")
    )
    assert slos["checkout-latency"]["sli"] == pytest.approx(latency, abs=1e-12)
    assert slos["checkout-cpu"]["sli"] == pytest.approx(cpu, abs=1e-12)
    assert slos["checkout-availability"]["sli"] == pytest.approx(1 - bad_share, rel=1e-9)
    expected_breached = sum(
        sli < objective for sli, objective in ((latency, 0.99), (cpu, 0.99), (1 - bad_share, 0.995))
    )
    assert demo_run["slos_evaluated"] == 3
    assert demo_run["slos_breached"] == expected_breached


def test_the_first_model_is_registered_and_promoted_by_the_slo_gate(demo_run):
    assert demo_run["model_version"] == "1"
    assert demo_run["model_uri"] == "models:/slopipe-anomaly/1"
    assert demo_run["promoted"] is True
    assert "better than chance" in demo_run["promotion_reason"]
    assert demo_run["gate"]["candidate"]["tp"] > 0


def scored_from(generated: pd.DataFrame, fraction: float = 0.3) -> dict[str, pd.Timestamp]:
    """Per series, the first time of the newest `fraction` of its samples: the held-out
    span the first run scores (the settings' default `holdout_fraction`)."""
    split = {}
    for series, rows in generated.groupby("series"):
        stamps = pd.to_datetime(rows["timestamp"], utc=True).sort_values().reset_index(drop=True)
        split[series] = stamps.iloc[int(len(stamps) * (1.0 - fraction))]
    return split


def test_incidents_in_the_scored_span_are_flagged(demo_run, demo_home, generated):
    engine = sa.create_engine(f"sqlite:///{demo_home / 'slo.db'}")
    found = pd.read_sql("select series, timestamp from anomalies where service is null", engine)
    found["timestamp"] = pd.to_datetime(found["timestamp"], utc=True)
    assert len(found) == demo_run["anomalies"] > 0
    split = scored_from(generated)
    in_span = [i for i in demo.incidents() if i.start >= split[i.series]]
    assert len(in_span) >= 2  # the check below must have something to check
    for incident in in_span:
        on_series = found[found["series"] == incident.series]["timestamp"]
        inside = on_series[(on_series >= incident.start) & (on_series <= incident.end)]
        assert len(inside) > 0, f"{incident} not flagged"


def test_alerts_are_kept_in_the_outbox_without_an_alertmanager(demo_run, demo_home):
    engine = sa.create_engine(f"sqlite:///{demo_home / 'slo.db'}")
    rows = pd.read_sql("select alertname, status from alerts", engine)
    assert len(rows) == demo_run["alerts"] > 0
    assert set(rows["status"]) == {"pending"}
    assert (rows["alertname"] == "SLOBreached").sum() == demo_run["slos_breached"]


def test_a_second_run_stores_nothing_twice(demo_run, demo_home):
    again = slopipe("run", "--json", home=demo_home)
    assert again.returncode == 0, again.stderr
    second = again.json()
    assert second["new_samples"] == 0
    assert second["lake_rows"] == demo_run["lake_rows"]
    assert second["model_version"] == "2"
    assert second["new_anomalies"] == 0 and second["alerts"] == 0
    assert second["new_service_anomalies"] == 0 == second["services"][0]["scored"]
    engine = sa.create_engine(f"sqlite:///{demo_home / 'slo.db'}")
    with engine.connect() as connection:
        versions = connection.execute(sa.text("select count(*) from slo_versions")).scalar()
    assert versions == 3  # the same definitions applied twice make no new versions


def test_the_table_output_is_readable_and_logs_stay_on_stderr(tmp_path):
    result = slopipe("run", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "SLOs breached" in result.stdout and "checkout-latency" in result.stdout
    assert "INFO" not in result.stdout and "lake append" in result.stderr


def test_the_demo_is_one_service_whose_incidents_are_explained_by_the_series_they_hit(
    demo_run, demo_home
):
    (service,) = demo_run["services"]
    assert service["name"] == "checkout"  # its series' label service, as its SLOs name it
    assert service["slos"] == ["checkout-availability", "checkout-cpu", "checkout-latency"]
    assert service["series"] == sorted(demo.generate()["series"].unique())
    engine = sa.create_engine(f"sqlite:///{demo_home / 'slo.db'}")
    found = pd.read_sql(
        "select timestamp, top_metrics from anomalies where service = 'checkout'", engine
    )
    found["timestamp"] = pd.to_datetime(found["timestamp"], utc=True)
    assert len(found) == service["anomalies"] == demo_run["service_anomalies"] > 0
    # the service model holds out the newest 30 % of its series' common span
    held_from = max(scored_from(demo.generate()).values())
    in_span = [i for i in demo.incidents() if i.start >= held_from]
    assert len(in_span) >= 2
    for incident in in_span:
        inside = found[found["timestamp"].between(incident.start, incident.end)]
        assert len(inside) > 0, f"{incident} not flagged by the service model"
        first = {json.loads(t)[0] for t in inside["top_metrics"]}
        assert first == {incident.series}, incident
