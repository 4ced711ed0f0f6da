"""`slopipe run` on a synthetic service whose database latency breaks in the held-out span.

Four metrics of one service `shop` (one CSV folder), four days at one-minute steps; only
`db_latency` breaks, by 15 of its noise's standard deviations for 45 minutes, on the last day.
The figures below follow from that layout alone: 5,760 steps, of which the newest 30 % (1,728)
are held out and scored; the break starts 3 days 12 hours in.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from slopipe.slo.store import SloStore
from tests.e2e.conftest import slopipe

START = pd.Timestamp("2024-03-04 00:00", tz="UTC")
STEPS = 4 * 24 * 60
BREAK_START = START + timedelta(days=3, hours=12)
BREAK_END = BREAK_START + timedelta(minutes=45)
METRICS = ["cpu", "db_latency", "memory", "requests"]


def write_service(folder: Path) -> None:
    rng = np.random.default_rng(11)
    times = pd.date_range(START, periods=STEPS, freq="1min")
    day = np.sin(2 * np.pi * np.arange(STEPS) / (24 * 60))
    broken = (times >= BREAK_START) & (times < BREAK_END)
    values = {
        "cpu": 0.5 + 0.2 * day + rng.normal(0, 0.02, STEPS),
        "db_latency": 0.05 + 0.01 * day + rng.normal(0, 0.002, STEPS) + 0.03 * broken,
        "memory": 0.6 + rng.normal(0, 0.01, STEPS),
        "requests": 100 + 30 * day + rng.normal(0, 3, STEPS),
    }
    folder.mkdir(parents=True)
    stamps = times.strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, series in values.items():
        pd.DataFrame({"timestamp": stamps, "value": series}).to_csv(
            folder / f"{name}.csv", index=False
        )


def slo_file(path: Path) -> Path:
    document = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "shop-db-latency"},
        "spec": {
            "service": "shop",
            "indicator": {
                "metadata": {"name": "db-latency"},
                "spec": {
                    "thresholdMetric": {
                        "metricSource": {"type": "lake", "spec": {"series": "db_latency"}}
                    }
                },
            },
            "timeWindow": [{"duration": "1d", "isRolling": True}],
            "budgetingMethod": "Timeslices",
            "objectives": [{"op": "lte", "value": 0.075, "target": 0.99, "timeSliceWindow": "5m"}],
        },
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("shop")
    write_service(root / "shop")
    home = root / "home"
    slos = slo_file(root / "slos.yaml")
    result = slopipe(
        "run", "--source", f"csv:{root / 'shop'}", "--slos", str(slos), "--json", home=home
    )
    assert result.returncode == 0, result.stderr
    return result.json(), home


def test_the_folder_is_one_service_linked_to_its_slo_and_scored_on_the_held_out_span(shop_run):
    summary, _ = shop_run
    (service,) = summary["services"]
    assert (service["name"], service["series"], service["slos"]) == (
        "shop",
        METRICS,
        ["shop-db-latency"],
    )
    assert (service["train_rows"], service["scored"]) == (4032, 1728)  # 70 % and 30 % of 5,760
    assert service["skipped"] == ""
    assert summary["service_anomalies"] == service["anomalies"] > 0


def test_the_break_is_flagged_at_once_and_explained_by_the_metric_that_broke(shop_run):
    summary, home = shop_run
    stored = SloStore(f"sqlite:///{home / 'slo.db'}").service_anomalies("shop")
    assert len(stored) == summary["service_anomalies"]
    inside = stored[(stored["timestamp"] >= BREAK_START) & (stored["timestamp"] < BREAK_END)]
    assert inside["timestamp"].min() <= BREAK_START + timedelta(minutes=1)
    assert {metrics[0] for metrics in inside["top_metrics"]} == {"db_latency"}
    assert summary["services"][0]["top_metrics"][0] == "db_latency"


def test_the_alert_of_the_break_names_the_metric_that_broke_first(shop_run):
    _, home = shop_run
    store = SloStore(f"sqlite:///{home / 'slo.db'}")
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "select labels, annotations, starts_at from alerts"
        ).fetchall()
    service_alerts = [
        (json.loads(labels), json.loads(annotations), pd.Timestamp(starts_at, tz="UTC"))
        for labels, annotations, starts_at in rows
        if json.loads(labels)["alertname"] == "ServiceAnomalyDetected"
    ]
    covering = [
        annotations
        for labels, annotations, starts in service_alerts
        if labels["service"] == "shop"
        and starts <= BREAK_START + timedelta(minutes=1)
        and starts >= BREAK_START - timedelta(minutes=30)
    ]
    assert covering, service_alerts
    assert covering[-1]["top_metrics"].split(", ")[0] == "db_latency"
    assert covering[-1]["slos"] == "shop-db-latency"
