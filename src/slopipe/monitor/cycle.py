"""One monitor cycle: collect, score, evaluate SLOs, decide and deliver alerts, check the
retraining triggers. Each step stores its results itself, so a cycle cut short by a crash
leaves the store consistent and the next cycle continues from there.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from slopipe.alert import outbox
from slopipe.alert.policy import Links, SloContext, decide_alerts, open_episodes
from slopipe.config import Settings
from slopipe.detect.model import AnomalyModel
from slopipe.errors import CollectError, ConfigError, LakeError, SlopipeError
from slopipe.lake import Lake
from slopipe.monitor.collecting import collect_new, gap_seconds
from slopipe.monitor.metrics import MonitorMetrics
from slopipe.monitor.retrain import Retrainer
from slopipe.monitor.scoring import score_new
from slopipe.pipeline import evaluate_slos
from slopipe.registry.mlflow_registry import Registry
from slopipe.slo import openslo
from slopipe.slo.evaluate import SloStatus
from slopipe.slo.sources import Sources
from slopipe.slo.store import SloStore

log = logging.getLogger(__name__)

SCORING_FROM = "scoring_from"
LAST_CYCLE = "last_cycle_at"


@dataclass
class CycleReport:
    started_at: datetime
    duration_seconds: float = 0.0
    collected: int = 0
    collect_error: str | None = None
    scored: int = 0
    anomalies: int = 0
    model_version: str | None = None
    slos: int = 0
    alerts_firing: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    alerts_sent: int = 0
    outbox_depth: int = 0
    retrain: str | None = None
    statuses: list[SloStatus] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        skip = {"statuses"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}


class Monitor:
    """The state one monitor process keeps between cycles: stores, champion, metrics."""

    def __init__(self, settings: Settings, metrics: MonitorMetrics | None = None):
        if not settings.prometheus.url or not settings.prometheus.selectors:
            raise ConfigError(
                "the monitor needs prometheus.url and prometheus.selectors "
                "(SLOPIPE_PROMETHEUS__URL, or the config file)"
            )
        settings.home.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.metrics = metrics or MonitorMetrics()
        self.lake = Lake(settings.lake_path)
        self.store = SloStore(settings.slo_db_url)
        self.sources = Sources(self.lake, settings.prometheus)
        self.registry = Registry(settings)
        self.model: AnomalyModel | None = None
        self.model_version: str | None = None
        self.warned_unknown: set[tuple[str, tuple[str, ...]]] = set()  # see score_new
        self.retrainer = Retrainer(settings, self.lake, self.store, self.registry, self.metrics)

    def cycle(self, now: datetime | None = None) -> CycleReport:
        """Run one cycle; a failing collection is reported and the rest still runs."""
        now = now or datetime.now(UTC)
        report = CycleReport(started_at=now)
        began = time.monotonic()

        # 1. collect what is new
        self._collect(report, now)

        # 2. score it with the champion
        self._score(report, now)

        # 3. SLO burn rates
        statuses, slos = self._evaluate(now)
        report.statuses, report.slos = statuses, len(statuses)

        # 4. alerts: decide, keep in the outbox, deliver
        self._alert(report, statuses, slos, now)

        # 5. retraining triggers (training itself runs in the background)
        report.retrain = self.retrainer.check(statuses, slos, self.model, self.model_version, now)

        report.duration_seconds = time.monotonic() - began
        self.store.set_state({LAST_CYCLE: now.isoformat()})
        self._observe(report)
        return report

    def _collect(self, report: CycleReport, now: datetime) -> None:
        try:
            report.collected = collect_new(self.settings, self.lake, self.store, now)
        except (CollectError, LakeError) as err:
            report.collect_error = str(err)
            self.metrics.collect_errors.inc()
            log.warning("collect failed, scoring what the lake holds; retried next cycle: %s", err)
        step = self.settings.prometheus.step_seconds
        self.metrics.collect_gap.set(gap_seconds(self.store, now, step))

    def _score(self, report: CycleReport, now: datetime) -> None:
        self._reload_champion()
        report.model_version = self.model_version
        if self.model is None:
            return
        start = self.store.get_state(SCORING_FROM)
        if start is None:
            start = now.isoformat()
            self.store.set_state({SCORING_FROM: start})
        first = pd.Timestamp(start).to_pydatetime()
        series = {name: first for name in self.lake.series_names()}
        result = score_new(
            self.lake, self.store, self.model, self.model_version, series, self.warned_unknown
        )
        report.scored, report.anomalies = result.scored, result.anomalies
        for name, score in result.latest_scores.items():
            self.metrics.anomaly_score.labels(series=name).set(score)

    def _reload_champion(self) -> None:
        """Load the champion when the alias has moved (or at the first cycle)."""
        try:
            champion = self.registry.champion()
            if champion is None:
                if self.model is None:
                    log.warning("no champion model yet: nothing scored (train one first)")
                return
            if champion.version != self.model_version:
                self.model = self.registry.load(champion)
                self.model_version = champion.version
                log.info("scoring with champion version %s", champion.version)
        except SlopipeError as err:
            log.warning(
                "champion not reloaded, scoring with version %s: %s", self.model_version, err
            )

    def _evaluate(self, now: datetime) -> tuple[list[SloStatus], dict[str, SloContext]]:
        statuses, slo_series = evaluate_slos(self.store, self.sources, now)
        services = {}
        for stored in self.store.current():
            definition = openslo.parse_slo(stored.document, where=f"stored SLO {stored.name}")
            services[definition.name] = definition.service
        slos = {
            name: SloContext(services.get(name, ""), series) for name, series in slo_series.items()
        }
        return statuses, slos

    def _alert(self, report, statuses, slos, now: datetime) -> None:
        settings = self.settings.monitor
        gap = timedelta(seconds=settings.anomaly_group_seconds)
        escalate_after = timedelta(seconds=settings.escalate_after_seconds)
        # Far enough back that an open episode can be seen lasting `escalate_after`.
        recent = self.store.anomalies(since=now - 2 * gap - escalate_after)
        episodes = open_episodes(recent, now, gap)
        links = Links(self.settings.ui_url, settings.runbook_url)
        desired = decide_alerts(statuses, slos, episodes, now, links, escalate_after)
        synced = outbox.sync(self.store, desired, now)
        report.alerts_firing = synced.firing
        report.alerts_opened, report.alerts_resolved = synced.opened, synced.resolved
        report.alerts_sent = outbox.deliver(
            self.store,
            self.settings.alertmanager_url,
            now,
            repost_after=timedelta(seconds=settings.repost_seconds),
            backoff_max=timedelta(seconds=settings.backoff_max_seconds),
            attempts=1,
        )
        report.outbox_depth = outbox.depth(self.store)

    def _observe(self, report: CycleReport) -> None:
        m = self.metrics
        m.cycle_duration.observe(report.duration_seconds)
        m.cycles.labels(result="ok" if report.collect_error is None else "collect_failed").inc()
        if report.collect_error is None:
            m.last_success.set(time.time())
        m.collected.inc(report.collected)
        m.scored.inc(report.scored)
        m.alerts_sent.inc(report.alerts_sent)
        m.outbox_depth.set(report.outbox_depth)
        if report.model_version:
            m.model_version.set(float(report.model_version))
        for status in report.statuses:
            labels = {"slo": status.name, "objective": status.objective_name}
            m.budget_remaining.labels(**labels).set(status.error_budget_remaining)
            for window, rate in status.burn_rates.items():
                # No events in the window: no burn rate, shown as NaN.
                value = math.nan if rate is None else rate
                m.burn_rate.labels(window=window, **labels).set(value)
