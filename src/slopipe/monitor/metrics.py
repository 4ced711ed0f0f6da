"""What the monitor exposes on `/metrics`, in a registry of its own (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class MonitorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.anomaly_score = Gauge(
            "slopipe_anomaly_score", "Latest anomaly score per series", ["series"], registry=r
        )
        self.budget_remaining = Gauge(
            "slopipe_slo_error_budget_remaining",
            "Share of the SLO's error budget left (1 unspent, below 0 breached)",
            ["slo", "objective"],
            registry=r,
        )
        self.burn_rate = Gauge(
            "slopipe_slo_burn_rate",
            "SLO burn rate per window",
            ["slo", "objective", "window"],
            registry=r,
        )
        self.cycle_duration = Histogram(
            "slopipe_monitor_cycle_duration_seconds",
            "Duration of a monitor cycle",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.cycles = Counter(
            "slopipe_monitor_cycles", "Monitor cycles by result", ["result"], registry=r
        )
        self.last_success = Gauge(
            "slopipe_monitor_last_success_timestamp_seconds",
            "When the last successful cycle ended (Unix time)",
            registry=r,
        )
        self.collect_errors = Counter(
            "slopipe_monitor_collect_errors", "Collections that failed", registry=r
        )
        self.collect_gap = Gauge(
            "slopipe_monitor_collect_gap_seconds",
            "Seconds since data was last collected successfully (0 when current)",
            registry=r,
        )
        self.collected = Counter(
            "slopipe_monitor_samples_collected", "New samples stored in the lake", registry=r
        )
        self.scored = Counter("slopipe_monitor_samples_scored", "Samples scored", registry=r)
        self.model_version = Gauge(
            "slopipe_model_version", "Version of the champion model scoring now", registry=r
        )
        self.outbox_depth = Gauge(
            "slopipe_alert_outbox_depth", "Alerts waiting to be delivered", registry=r
        )
        self.alerts_sent = Counter(
            "slopipe_alerts_sent", "Alert posts Alertmanager accepted", registry=r
        )
        self.retrains = Counter(
            "slopipe_retrains", "Retrainings started, by trigger", ["trigger"], registry=r
        )
