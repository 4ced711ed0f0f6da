"""Retraining triggers, and retraining in the background so that scoring never waits.

Triggers, checked every cycle:

| trigger       | fires when                                                               |
|---------------|--------------------------------------------------------------------------|
| drift         | PSI of a scale-free feature of a series (`prepare.FEATURES`), recent rows |
|               | against the training window, is over                                     |
|               | `monitor.drift_psi` (0.25) on any series the champion was trained on     |
| anomaly_rate  | the anomaly rate of the last hour is over `anomaly_rate_factor` (10)      |
|               | times the expected rate (the `contamination` setting, 0.003)             |
| missed_breach | a breached SLO burned budget in slices of the last hour, and the model   |
|               | flagged no anomaly on the SLO's series in any of them                    |
| schedule      | `retrain_every_seconds` passed since the last retraining                 |
| no_champion   | there is no champion yet                                                 |

A fired trigger starts one training thread (never two at once, and not again within
`retrain_cooldown_seconds`): it trains a candidate on the lake's recent history
(`training_span`), runs the validation gate, and promotes or not; the MLflow run records
the trigger and its figures.
The monitor picks a new champion up at its next cycle.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import pandas as pd

from slopipe.config import Settings
from slopipe.detect.model import AnomalyModel
from slopipe.errors import SlopipeError
from slopipe.lake import Lake
from slopipe.monitor.drift import drift_features, feature_drift
from slopipe.monitor.metrics import MonitorMetrics
from slopipe.prepare import FEATURES
from slopipe.registry.mlflow_registry import Registry
from slopipe.slo.store import SloStore

log = logging.getLogger(__name__)

LAST_RETRAIN = "last_retrain_at"
TRAIN_SPAN = timedelta(days=1)
RECENT = timedelta(hours=1)


def training_span(model: AnomalyModel | None, holdout_fraction: float) -> timedelta | None:
    """How far back a retraining reads: a day plus what the champion's slowest series needs
    for a forest's `train_rows` before the held-out span (11 days at 5-minute steps, at
    least a day); everything the lake holds (None) when there is no champion to ask."""
    if model is None or not model.steps:
        return None
    rows = model.config.train_rows / (1.0 - holdout_fraction)
    return TRAIN_SPAN + rows * max(model.steps.values()).to_pytimedelta()


class Retrainer:
    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        store: SloStore,
        registry: Registry,
        metrics: MonitorMetrics,
    ):
        self.settings, self.lake, self.store = settings, lake, store
        self.registry, self.metrics = registry, metrics
        self.thread: threading.Thread | None = None
        self.reference: tuple[str, pd.DataFrame] | None = None
        self.last_outcome: dict | None = None

    def check(self, statuses, slos, model, model_version, now: datetime) -> str | None:
        """Start a retraining when a trigger fires; return the trigger's name, or None."""
        if not self.settings.monitor.retrain or self.busy() or self._cooling(now):
            return None
        trigger = self._trigger(statuses, slos, model, model_version, now)
        if trigger is None:
            return None
        log.info("retraining: trigger %s %s", trigger["name"], trigger["figures"])
        self.metrics.retrains.labels(trigger=trigger["name"]).inc()
        self.store.set_state({LAST_RETRAIN: now.isoformat()})
        span = training_span(model, self.settings.holdout_fraction)
        self.thread = threading.Thread(
            target=self._train, args=(trigger, now, span), name="slopipe-retrain", daemon=True
        )
        self.thread.start()
        return trigger["name"]

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def join(self, timeout_seconds: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout_seconds)

    def _cooling(self, now: datetime) -> bool:
        last = self.store.get_state(LAST_RETRAIN)
        cooldown = timedelta(seconds=self.settings.monitor.retrain_cooldown_seconds)
        return last is not None and now - pd.Timestamp(last).to_pydatetime() < cooldown

    def _trigger(self, statuses, slos, model, model_version, now: datetime) -> dict | None:
        if model is None:
            return {"name": "no_champion", "figures": {}}
        every = self.settings.monitor.retrain_every_seconds
        last = self.store.get_state(LAST_RETRAIN)
        if every and (last is None or now - pd.Timestamp(last) >= timedelta(seconds=every)):
            return {"name": "schedule", "figures": {"every_seconds": every}}
        return (
            self._drift(model, model_version, now)
            or self._anomaly_rate(model, now)
            or self._missed_breach(statuses, slos, now)
        )

    def _drift(self, model: AnomalyModel, version: str, now: datetime) -> dict | None:
        series = model.training.get("series", [])
        reference = self._reference(model, version, series)
        recent = self.lake.read(series, start=now - RECENT - TRAIN_SPAN)
        if recent.empty or reference.empty:
            return None
        features = drift_features(recent)
        features = features[features["timestamp"] > pd.Timestamp(now) - RECENT]
        features = features.groupby("series").tail(self.settings.monitor.drift_min_samples)
        if len(features) < self.settings.monitor.drift_min_samples:
            return None
        worst, where = feature_drift(reference, features, FEATURES)
        if worst <= self.settings.monitor.drift_psi:
            return None
        return {"name": "drift", "figures": {"psi": worst}, "where": where}

    def _reference(self, model: AnomalyModel, version: str, series: list[str]) -> pd.DataFrame:
        """Feature rows of the champion's training window (kept per model version)."""
        if self.reference and self.reference[0] == version:
            return self.reference[1]
        start = pd.Timestamp(model.training["start"])
        end = pd.Timestamp(model.training["end"])
        samples = self.lake.read(series, start=start - TRAIN_SPAN, end=end)
        features = drift_features(samples) if not samples.empty else samples
        if not features.empty:
            features = features[features["timestamp"] >= start]
        self.reference = (version, features)
        return features

    def _anomaly_rate(self, model: AnomalyModel, now: datetime) -> dict | None:
        log_rows = self.store.score_log()
        if log_rows.empty:
            return None
        since = pd.Timestamp(now) - RECENT
        scored = log_rows[log_rows["scored_until"] > since]["samples"].sum()
        if scored < self.settings.monitor.drift_min_samples:
            return None
        flagged = len(self.store.anomalies(since=since))
        rate, expected = flagged / scored, self.settings.contamination
        if rate <= self.settings.monitor.anomaly_rate_factor * expected:
            return None
        return {"name": "anomaly_rate", "figures": {"anomaly_rate": rate, "expected": expected}}

    def _missed_breach(self, statuses, slos, now: datetime) -> dict | None:
        since = pd.Timestamp(now) - RECENT
        found = self.store.anomalies(since=since - RECENT)
        for status in statuses:
            series = slos.get(status.name).series if status.name in slos else ()
            periods = [(s, e) for s, e in status.bad_periods if e > since]
            if status.state != "breached" or not periods or not series:
                continue
            mine = found[found["series"].isin(series)] if not found.empty else found
            caught = (
                any(((mine["timestamp"] > s) & (mine["timestamp"] <= e)).any() for s, e in periods)
                if not mine.empty
                else False
            )
            if not caught:
                figures = {"breaching_slices": len(periods)}
                return {"name": "missed_breach", "figures": figures, "where": status.name}
        return None

    def _train(self, trigger: dict, now: datetime, span: timedelta | None) -> None:
        from slopipe.pipeline import evaluate_slos, example_rows, train_and_gate
        from slopipe.prepare import build_features, prepare
        from slopipe.slo.sources import Sources

        try:
            samples = self.lake.read(start=None if span is None else now - span)
            features = build_features(prepare(samples)[0])
            statuses, slo_series = evaluate_slos(
                self.store, Sources(self.lake, self.settings.prometheus), now
            )
            outcome = train_and_gate(
                self.settings,
                self.registry,
                features,
                example_rows(samples),
                statuses,
                slo_series,
                trigger=trigger,
            )
            self.registry.note(outcome.candidate.version, "trigger", trigger["name"])
            self.last_outcome = {
                "trigger": trigger["name"],
                "version": outcome.candidate.version,
                "promoted": outcome.decision.promote,
                "reason": outcome.decision.reason,
            }
            log.info("retraining (%s) done: %s", trigger["name"], self.last_outcome)
        except SlopipeError as err:
            log.warning(
                "retraining (%s) failed, the champion keeps scoring: %s", trigger["name"], err
            )
        except Exception:  # noqa: BLE001 - a failed retraining must never stop the monitor
            log.exception("retraining (%s) crashed, the champion keeps scoring", trigger["name"])
