"""`slopipe monitor` against a real Prometheus and a real Alertmanager."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from tests.fixtures.prom_live import LATENCY, wait_for
from tests.monitor.live import firing, incident, new_monitor, notifications, resolved

pytestmark = pytest.mark.slow

DRIFT = 'slopipe_retrains_total{trigger="drift"}'
SCORED = "slopipe_monitor_samples_scored_total"


def assert_each_notified_once(am) -> None:
    counts = notifications(am)
    assert counts, "no notification reached the webhook"
    twice = {k: n for k, n in counts.items() if n > 1}
    assert not twice, f"notified more than once: {twice}"


def test_an_incident_pages_through_alertmanager_and_resolves_when_it_ends(tmp_path, app, prom, am):
    monitor = new_monitor(tmp_path / "home", prom, am)
    try:
        monitor.start()
        wait_for(
            lambda: monitor.metrics().get("slopipe_monitor_samples_scored_total"),
            60,
            "samples scored",
        )
        cycles_before = monitor.cycles()
        page = incident(app, am)
        assert monitor.cycles() - cycles_before <= 30  # bounded number of cycles
        labels, notes = page["labels"], page["annotations"]
        assert labels["severity"] == "page" and labels["tier"] == "page-fast"
        assert labels["slo"] == "api-availability" and labels["service"] == "api"
        assert "app_errors_total" in labels["series"]
        for key in (
            "summary",
            "description",
            "runbook_url",
            "dashboard",
            "burn_rate",
            "error_budget_remaining",
        ):
            assert notes.get(key), key
        assert float(notes["burn_rate"]) >= 14.4

        app.error_ratio = 0.0
        wait_for(lambda: resolved(am, "SLOBurnRate"), 120, "the page resolved")
        assert_each_notified_once(am)

        metrics = monitor.metrics()
        labels = 'objective="requests succeed",slo="api-availability",window="5m"'
        assert metrics[f"slopipe_slo_burn_rate{{{labels}}}"] >= 0
        assert any(k.startswith("slopipe_anomaly_score{") for k in metrics)
        assert metrics["slopipe_model_version"] == 1.0
        assert metrics["slopipe_alerts_sent_total"] >= 2
        assert monitor.health().status_code == 200
        assert monitor.terminate() == 0  # SIGTERM: the cycle ends, the service exits cleanly
    finally:
        monitor.stop()


def test_an_anomaly_on_an_slo_series_warns_early_then_escalates_as_the_burn_rises(
    tmp_path, app, prom, am
):
    """Latency jumps but stays within the SLO (0.4 s, under 0.5 s): the model flags it, and
    as no burn tier fires the webhook gets an early warning. Then requests get too slow
    (0.6 s): 1-minute slices go bad, the 5m burn rate rises above the 1h one, and the
    still open episode escalates to a page; the early warning resolves."""
    monitor = new_monitor(
        tmp_path / "home", prom, am, anomaly_group_seconds=30, escalate_after_seconds=5
    )

    def latency_alerts(alertname: str) -> list[dict]:
        return [a for a in firing(am, alertname) if a["labels"]["slo"] == "api-latency"]

    try:
        monitor.start()
        wait_for(lambda: monitor.metrics().get(SCORED), 60, "samples scored")
        app.latency = 0.4
        (warning,) = wait_for(lambda: latency_alerts("AnomalyEarlyWarning"), 90, "an early warning")
        assert warning["labels"]["series"] == LATENCY
        assert (warning["labels"]["severity"], warning["labels"]["tier"]) == (
            "warning",
            "early-warning",
        )
        assert float(warning["annotations"]["anomaly_score"]) > 0
        assert not latency_alerts("AnomalyEscalated") and not firing(am, "SLOBurnRate")

        app.latency = 0.6
        (page,) = wait_for(lambda: latency_alerts("AnomalyEscalated"), 120, "an escalation")
        assert (page["labels"]["severity"], page["labels"]["tier"]) == (
            "page",
            "anomaly-escalated",
        )
        assert page["labels"]["series"] == LATENCY
        assert float(page["annotations"]["burn_rate"]) >= 1.0
        # The escalation replaces the warning of the same episode.
        wait_for(
            lambda: [
                a
                for a in resolved(am, "AnomalyEarlyWarning")
                if a["labels"]["slo"] == "api-latency"
            ],
            60,
            "the early warning resolved",
        )
        assert_each_notified_once(am)
        assert monitor.terminate() == 0
    finally:
        monitor.stop()


def lake_and_log(home):
    from slopipe.config import load_settings
    from slopipe.lake import Lake
    from slopipe.slo.store import SloStore

    settings = load_settings(None, home=home)
    return Lake(settings.lake_path), SloStore(settings.slo_db_url)


def assert_scored_once(home) -> None:
    """Scoring passes cover disjoint spans, and together every step of the prepared series
    (raw samples snapped to the series' step, as the model scores them) in them."""
    from slopipe.prepare import prepare

    lake, store = lake_and_log(home)
    log = store.score_log()
    assert not log.empty
    for series, passes in log.groupby("series"):
        passes = passes.sort_values("scored_after")
        ends = passes["scored_until"].to_numpy()[:-1]
        starts = passes["scored_after"].to_numpy()[1:]
        assert (starts >= ends).all(), f"{series}: a span was scored twice"
        first, last = passes["scored_after"].min(), passes["scored_until"].max()
        steps, _ = prepare(lake.read(series, start=first - pd.Timedelta(minutes=5)))
        steps = steps[~steps["gap"]]
        inside = steps[(steps["timestamp"] > first) & (steps["timestamp"] <= last)]
        assert passes["samples"].sum() == len(inside), series


def test_faults_lose_no_alert_and_send_none_twice(tmp_path, app, prom, am):
    """Alertmanager down while alerts fire, the monitor SIGKILLed mid-cycle and restarted,
    Prometheus unreachable for a while: every alert is delivered once, nothing scored twice,
    and the gap is reported, then filled."""
    monitor = new_monitor(tmp_path / "home", prom, am)
    try:
        monitor.start()
        page = incident(app, am)

        # Alertmanager goes down while the page fires; the monitor dies mid-cycle.
        am.service.stop()
        wait_for(lambda: monitor.reports()[-1]["alerts_sent"] == 0, 30, "a failed re-post")
        time.sleep(0.7)
        monitor.kill()
        app.error_ratio = 0.0  # the incident ends while nobody can deliver the resolution
        monitor.start()

        # Prometheus is unreachable for a while: the monitor keeps cycling and says so.
        prom.stop()
        wait_for(
            lambda: monitor.metrics().get("slopipe_monitor_collect_errors_total", 0) >= 2,
            60,
            "collect errors on /metrics",
        )
        wait_for(
            lambda: monitor.metrics().get("slopipe_monitor_collect_gap_seconds", 0) > 0,
            30,
            "the gap on /metrics",
        )
        assert monitor.health().status_code == 200
        prom.start()
        wait_for(
            lambda: monitor.metrics().get("slopipe_monitor_collect_gap_seconds") == 0,
            60,
            "the gap closed",
        )

        # Alertmanager is back: the resolution goes out, once.
        wait_for(
            lambda: monitor.metrics().get("slopipe_alert_outbox_depth", 1) >= 1,
            60,
            "the resolution waiting in the outbox",
        )
        am.service.start()
        wait_for(lambda: resolved(am, "SLOBurnRate"), 90, "the page resolved")
        time.sleep(4)  # re-posts and a few more cycles, to catch any duplicate
        assert_each_notified_once(am)
        ids = {(a["labels"]["tier"], a["startsAt"]) for a in firing(am, "SLOBurnRate")}
        assert (page["labels"]["tier"], page["startsAt"]) in ids
        assert monitor.terminate() == 0
    finally:
        monitor.stop()
    assert_scored_once(tmp_path / "home")


def drift_runs(uri: str) -> list:
    """MLflow runs of drift retrainings that recorded their PSI; none while the store is busy."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from sqlalchemy.exc import OperationalError

    client = MlflowClient(uri)
    try:
        experiment = client.get_experiment_by_name("slopipe")
        runs = client.search_runs([experiment.experiment_id], "params.trigger = 'drift'")
    except (MlflowException, OperationalError):
        return []  # SQLite locked by the monitor's own write: ask again
    return [r for r in runs if "trigger_psi" in r.data.metrics]


def test_drift_in_the_exporter_triggers_a_retraining_recorded_in_mlflow(tmp_path, app, prom, am):
    """Timing: nothing here assumes how long a cycle or a retraining takes, so that a loaded
    machine makes the test slower, not red. Every wait is for a condition."""
    monitor = new_monitor(
        tmp_path / "home",
        prom,
        am,
        retrain=True,
        drift_psi=1.0,
        drift_min_samples=30,
        anomaly_rate_factor=1000,
        retrain_cooldown_seconds=600,
    )
    uri = f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    try:
        monitor.start()
        # Five cycles at the trained level, however long they take: no drift.
        settled = monitor.cycles() + 5
        wait_for(lambda: monitor.cycles() >= settled, 120, "five cycles before the shift")
        assert monitor.answered_metrics().get(DRIFT, 0) == 0

        app.latency = 0.6  # a new level, far outside the training window's
        wait_for(lambda: monitor.metrics().get(DRIFT), 180, "a drift trigger")
        scored = monitor.answered_metrics()[SCORED]
        runs = wait_for(lambda: drift_runs(uri), 180, "the drift run in MLflow", every=2)
        assert runs[0].data.metrics["trigger_psi"] > 1.0

        # Cycles go on scoring beside the retraining (the next one may end after the run
        # shows up in MLflow: the run is visible before the model is logged).
        wait_for(
            lambda: monitor.metrics().get(SCORED, 0) > scored, 120, "scoring after the trigger"
        )
        # The service lets the cycle end, then waits up to 60 s for the retraining.
        assert monitor.terminate(timeout_seconds=180) == 0
    finally:
        monitor.stop()
