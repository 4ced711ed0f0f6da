"""The SLO store on real PostgreSQL and on SQLite: versions, history, evaluations."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from slopipe.slo.stage import evaluate_store
from slopipe.slo.store import MIGRATIONS, SloStore


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'slo.db'}"
    return request.getfixturevalue("pg_url")


def slo_doc(target: float) -> dict:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "api", "annotations": {"slopipe.io/min-coverage": "0"}},
        "spec": {
            "service": "shop",
            "indicator": {
                "spec": {"ratioMetric": {"bad": source("errors"), "total": source("requests")}}
            },
            "timeWindow": [{"duration": "1d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": target}],
        },
    }


def test_every_change_is_a_new_version_with_author_time_and_reason(db_url):
    store = SloStore(db_url)
    t1 = datetime(2026, 3, 1, tzinfo=UTC)
    assert store.apply([("api", slo_doc(0.99))], "ana", "first", now=t1) == [("api", 1, True)]
    # The same document again changes nothing.
    assert store.apply([("api", slo_doc(0.99))], "ana", "again", now=t1) == [("api", 1, False)]
    t2 = t1 + timedelta(hours=12)
    assert store.apply([("api", slo_doc(0.999))], "bo", "tighter", "sloth", now=t2) == [
        ("api", 2, True)
    ]
    history = store.history("api")
    assert [(v.version, v.author, v.reason, v.created_at) for v in history] == [
        (1, "ana", "first", t1),
        (2, "bo", "tighter", t2),
    ]
    assert history[0].document["spec"]["objectives"] == [{"target": 0.99}]
    assert [s.source_format for s in history] == ["openslo", "sloth"]
    assert [(s.name, s.version) for s in store.current()] == [("api", 2)]


def test_evaluations_record_the_version_they_used_and_its_history(db_url):
    # Version 1 (99%) from day start, version 2 (99.9%) from noon; 1000 req/min, 2 err/min.
    # The budget counts each half under its own objective: 1 - 2880/7920 = 0.636364.
    store = SloStore(db_url)
    end = pd.Timestamp("2026-03-02", tz="UTC")
    store.apply(
        [("api", slo_doc(0.99))], "ana", "first", now=(end - pd.Timedelta(days=2)).to_pydatetime()
    )
    store.apply(
        [("api", slo_doc(0.999))],
        "ana",
        "tighter",
        now=(end - pd.Timedelta(hours=12)).to_pydatetime(),
    )
    times = pd.date_range(end=end, periods=1440, freq="1min")
    data = {
        "requests": pd.DataFrame({"timestamp": times, "value": np.full(1440, 1000.0)}),
        "errors": pd.DataFrame({"timestamp": times, "value": np.full(1440, 2.0)}),
    }
    fetch = lambda s, a, b: data[s.series]  # noqa: E731
    [result] = evaluate_store(store, fetch, lambda d: end).evaluated
    assert result.stored.version == 2
    assert result.statuses[0].error_budget_remaining == pytest.approx(1 - 2880 / 7920)
    rows = store.evaluations("api")
    assert rows[["version", "objective_ratio", "state"]].values.tolist() == [[2, 0.999, "ok"]]
    assert rows["coverage"].iloc[0] == pytest.approx(1.0)


def test_a_store_made_by_revision_0001_is_upgraded_keeping_its_slos(db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            sa.text(
                "INSERT INTO slo_versions (name, version, document, author, reason, created_at) "
                "VALUES ('old', 1, '{}', 'ana', 'before 0002', '2026-01-01T00:00:00+00:00')"
            )
        )
    engine.dispose()
    store = SloStore(db_url)
    [old] = store.history("old")
    assert (old.version, old.author, old.source_format) == (1, "ana", "openslo")
    with store.engine.connect() as connection:
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert revision == "0301"  # the newest revision, after 0002


def test_service_anomalies_keep_their_ranked_metrics_apart_from_per_series_ones(db_url):
    store = SloStore(db_url)
    at = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    found = pd.DataFrame(
        {
            "timestamp": [at, at + timedelta(minutes=1)],
            "anomaly_score": [0.9, 0.8],
            "top_metrics": [["db", "cpu"], ["cpu", "db"]],
        }
    )
    until = at + timedelta(minutes=5)
    assert store.record_service_scores("shop", found, "3", until) == 2
    assert store.record_service_scores("shop", found, "3", until) == 0  # stored once
    stored = store.service_anomalies("shop")
    assert list(stored["top_metrics"]) == [["db", "cpu"], ["cpu", "db"]]
    assert list(stored["timestamp"]) == list(found["timestamp"])
    assert set(stored["service"]) == {"shop"} and set(stored["model_version"]) == {"3"}
    assert store.anomalies().empty  # the per-series model's anomalies only
    assert store.service_anomalies("other").empty
    assert store.watermarks()["service/shop"] == until.to_pydatetime()


def test_anomalies_stored_before_revision_0301_stay_per_series_anomalies(db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0201")
        connection.execute(
            sa.text(
                "INSERT INTO anomalies (series, timestamp, anomaly_score, model_version, "
                "detected_at) VALUES ('cpu', '2026-01-01T00:00:00+00:00', 0.7, '1', "
                "'2026-01-01T00:05:00+00:00')"
            )
        )
    engine.dispose()
    store = SloStore(db_url)
    assert list(store.anomalies()["series"]) == ["cpu"]
    assert store.service_anomalies().empty
