"""The live setup the monitor's end-to-end tests share: a real Prometheus scraping an
exporter, a real Alertmanager with a webhook, a home with a champion model and two SLOs, and
`slopipe monitor` run as a user runs it, in its own process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import yaml

from tests.conftest import REPO
from tests.fixtures.prom_live import (
    ERRORS,
    LATENCY,
    REQUESTS,
    SELECTORS,
    Alertmanager,
    Exporter,
    Service,
    latency_history,
    wait_for,
)
from tests.fixtures.services import free_port, stop_group

#: The SLOs' 2h windows would borrow the 7d catalogue, whose page-fast factor re-derived for
#: 2 hours is 0.16; each SLO states the 30-day catalogue's page-fast tier instead, so an
#: incident pages at 14.4 and the page resolves soon after it ends.
PAGE_FAST = """  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: paging}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: page-fast}
            spec:
              severity: page
              condition:
                {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}"""

SLOS = f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: api-availability}}
spec:
  service: api
  indicator:
    metadata: {{name: api-error-ratio}}
    spec:
      ratioMetric:
        counter: true
        bad: {{metricSource: {{type: lake, spec: {{series: '{ERRORS}'}}}}}}
        total: {{metricSource: {{type: lake, spec: {{series: '{REQUESTS}'}}}}}}
  timeWindow: [{{duration: 2h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{displayName: requests succeed, target: 0.98}}]
{PAGE_FAST}
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: api-latency}}
spec:
  service: api
  indicator:
    metadata: {{name: api-latency-under-500ms}}
    spec:
      thresholdMetric:
        metricSource: {{type: lake, spec: {{series: '{LATENCY}'}}}}
  timeWindow: [{{duration: 2h, isRolling: true}}]
  budgetingMethod: Timeslices
  objectives:
    - {{displayName: under 500 ms, op: lte, value: 0.5, target: 0.99, timeSliceWindow: 1m}}
{PAGE_FAST}
"""


def prepare_home(home: Path, config: dict) -> None:
    """A home with 2.1 hours of latency history, the SLOs, and a champion trained on it."""
    from slopipe.config import load_settings
    from slopipe.detect.model import AnomalyModel, prepared_rows
    from slopipe.detect.streaming import StreamingConfig
    from slopipe.lake import Lake
    from slopipe.pipeline import example_rows
    from slopipe.registry.mlflow_registry import Registry
    from slopipe.slo import openslo
    from slopipe.slo.store import SloStore

    home.mkdir(parents=True)
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # MLflow sets it to the last URI it was given
    settings = load_settings(None, home=home)
    history = latency_history(pd.Timestamp.now(tz="UTC"), hours=2.1)
    Lake(settings.lake_path).append(history)
    (home / "slos.yaml").write_text(SLOS)
    definitions = openslo.load_file(home / "slos.yaml")
    SloStore(settings.slo_db_url).apply(
        [(d.name, doc) for d, doc in definitions], author="test", reason="test"
    )
    # The detector's quiet period after a flag is 4 h, 48 rows of its usual 5-minute data;
    # here rows are 1 s apart, so it is 48 s (a chance flag in the history would otherwise
    # damp every score of the test).
    detector = StreamingConfig(n_trees=50, quiet_seconds=48)
    model = AnomalyModel(detector).fit(prepared_rows(history))
    registry = Registry(settings)
    candidate = registry.log_candidate(
        model, params={"trigger": "test setup"}, metrics={}, example=example_rows(history)
    )
    registry.promote(candidate.version, "test setup")
    (home / "config.yaml").write_text(yaml.safe_dump(config))


def monitor_config(prometheus: Service, am: Alertmanager, port: int, **monitor) -> dict:
    return {
        "alertmanager_url": am.url,
        "prometheus": {
            "url": prometheus.url,
            "selectors": SELECTORS,
            "step_seconds": 1,
            "timeout_seconds": 3,
        },
        "monitor": {
            "interval_seconds": 1,
            "collect_span_seconds": 30,
            "metrics_port": port,
            "repost_seconds": 3,
            "backoff_max_seconds": 2,
            "anomaly_group_seconds": 5,
            "retrain": False,
            **monitor,
        },
    }


@dataclass
class MonitorProcess:
    home: Path
    port: int
    process: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLOPIPE_")}
        env.pop("MLFLOW_TRACKING_URI", None)
        env |= {
            "SLOPIPE_HOME": str(self.home),
            "SLOPIPE_CONFIG": str(self.home / "config.yaml"),
            "PYTHONPATH": str(REPO / "src"),
        }
        self.starts += 1
        out = (self.home / f"monitor-{self.starts}.out").open("wb")
        err = (self.home / f"monitor-{self.starts}.err").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "slopipe.cli.main", "monitor"],
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        wait_for(lambda: self.cycles() >= 1 or self._died(), 120, "a first monitor cycle")
        assert self.process.poll() is None, self.stderr()

    def _died(self) -> bool:
        return self.process.poll() is not None

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics by their full name with labels (help lines dropped)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=3).text
        except httpx.HTTPError:
            return {}
        found = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                found[name] = float(value)
        return found

    def answered_metrics(self, timeout_seconds: float = 60) -> dict[str, float]:
        """`metrics()`, waiting while the monitor is too busy to answer within its timeout
        (a retraining competes with the HTTP thread), so that a slow answer is not read as
        a missing sample."""
        return wait_for(self.metrics, timeout_seconds, "/metrics answering")

    def cycles(self) -> float:
        m = self.metrics()
        return sum(v for k, v in m.items() if k.startswith("slopipe_monitor_cycles_total"))

    def health(self) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=3)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout_seconds: float = 60) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_seconds)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)

    def stderr(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.home.glob("monitor-*.err")))

    def reports(self) -> list[dict]:
        lines = []
        for path in sorted(self.home.glob("monitor-*.out")):
            lines += [json.loads(x) for x in path.read_text().splitlines() if x.startswith("{")]
        return lines


def new_monitor(home: Path, prometheus: Service, am: Alertmanager, **monitor) -> MonitorProcess:
    port = free_port()
    prepare_home(home, monitor_config(prometheus, am, port, **monitor))
    return MonitorProcess(home, port)


def notifications(am: Alertmanager) -> Counter:
    """How often each (alertname, tier, startsAt, status) reached the webhook."""
    return Counter(
        (a["labels"]["alertname"], a["labels"].get("tier"), a["startsAt"], a["status"])
        for a in am.webhook.alerts()
    )


def firing(am: Alertmanager, alertname: str) -> list[dict]:
    return [
        a
        for a in am.webhook.alerts()
        if a["labels"]["alertname"] == alertname and a["status"] == "firing"
    ]


def resolved(am: Alertmanager, alertname: str) -> list[dict]:
    return [
        a
        for a in am.webhook.alerts()
        if a["labels"]["alertname"] == alertname and a["status"] == "resolved"
    ]


def incident(exporter: Exporter, am: Alertmanager, timeout_seconds: float = 90) -> dict:
    """Fail every request until the page reaches the webhook; return that alert."""
    exporter.error_ratio = 1.0
    found = wait_for(lambda: firing(am, "SLOBurnRate"), timeout_seconds, "a firing page")
    return found[0]
