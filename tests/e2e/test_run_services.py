"""`slopipe run` against real services: PostgreSQL, an MLflow server, Alertmanager."""

from __future__ import annotations

import mlflow
import pandas as pd
import sqlalchemy as sa
from mlflow.tracking import MlflowClient

from tests.e2e.conftest import slopipe
from tests.fixtures.services import alertmanager, mlflow_server


def test_postgres_store_mlflow_server_and_alertmanager_all_take_part(tmp_path, pg_factory):
    pg_url, mlflow_backend = pg_factory(), pg_factory()
    server = mlflow_server(tmp_path / "mlflow", backend_uri=mlflow_backend)
    with server as tracking_uri, alertmanager(tmp_path / "am") as am:
        env = {
            "SLOPIPE_DB_URL": pg_url,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "SLOPIPE_ALERTMANAGER_URL": am.url,
        }
        result = slopipe("run", "--json", env=env, home=tmp_path / "home")
        assert result.returncode == 0, result.stderr
        summary = result.json()

        # The SLO store is PostgreSQL: definitions, evaluations, anomalies and alerts are there.
        engine = sa.create_engine(pg_url)
        with engine.connect() as connection:

            def count(table: str) -> int:
                return connection.execute(sa.text(f"select count(*) from {table}")).scalar()

            assert count("slo_versions") == 3
            assert count("evaluations") == summary["slos_evaluated"] == 3
            assert count("anomalies where service is null") == summary["anomalies"] > 0
            assert count("anomalies where service = 'checkout'") == summary["service_anomalies"]
            statuses = pd.read_sql("select status from alerts", connection)["status"]
        assert not (tmp_path / "home" / "slo.db").exists()

        # Every alert went to Alertmanager; the firing SLO alerts are active there.
        assert summary["alerts_sent"] == summary["alerts"] == len(statuses)
        assert set(statuses) == {"sent"}
        active = am.active_alerts()
        breached = {a["labels"]["slo"] for a in active if a["labels"]["alertname"] == "SLOBreached"}
        expected = {s["name"] for s in summary["slos"] if s["state"] == "breached"}
        assert breached == expected and expected
        received = am.webhook.wait_for(len(expected))
        assert {a["labels"].get("slo") for a in received} >= expected

        # The model went to the MLflow server (PostgreSQL backend), aliased champion.
        client = MlflowClient(tracking_uri)
        champion = client.get_model_version_by_alias("slopipe-anomaly", "champion")
        assert champion.version == summary["model_version"] == "1"
        assert not (tmp_path / "home" / "mlflow.db").exists()
        mlflow.set_tracking_uri(tracking_uri)
        model = mlflow.pyfunc.load_model("models:/slopipe-anomaly@champion")
        sample = pd.DataFrame(
            {
                "timestamp": pd.date_range("2024-01-01", periods=300, freq="1min").strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "series": "cpu_utilization",
                "value": [0.3 + (i % 7) * 0.01 for i in range(299)] + [5.0],
            }
        )
        scores = model.predict(sample)
        assert list(scores.columns) == ["timestamp", "series", "anomaly_score", "is_anomaly"]
        assert scores["anomaly_score"].iloc[-1] == scores["anomaly_score"].max()


def test_alerts_wait_in_the_outbox_while_alertmanager_is_down_and_go_out_later(tmp_path):
    home = tmp_path / "home"
    down = {"SLOPIPE_ALERTMANAGER_URL": "http://127.0.0.1:9"}  # nothing listens on port 9
    first = slopipe("run", "--json", env=down, home=home)
    assert first.returncode == 0, first.stderr
    assert first.json()["alerts_sent"] == 0 and first.json()["alerts"] > 0
    assert "stay in the outbox" in first.stderr
    with alertmanager(tmp_path / "am") as am:
        second = slopipe("run", "--json", env={"SLOPIPE_ALERTMANAGER_URL": am.url}, home=home)
        assert second.returncode == 0, second.stderr
        assert second.json()["alerts"] == 0  # nothing new was raised ...
        assert second.json()["alerts_sent"] == first.json()["alerts"]  # ... the kept ones went
