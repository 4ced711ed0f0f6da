"""A built-in generator of realistic service metrics, with incidents whose times it knows.

One service, `checkout`, exposes four series at a one-minute step:

| series                   | kind    | shape                                             |
|--------------------------|---------|---------------------------------------------------|
| http_requests_total      | counter | daily and weekly traffic cycle, noise, resets     |
| http_errors_total        | counter | about 0.1 % of requests; bursts during incidents  |
| http_latency_p99_seconds | gauge   | follows load; shifts up during incidents          |
| cpu_utilization          | gauge   | follows load, 0..1; saturates during incidents    |

The exporter restarts twice (both counters drop to zero) and a few scrapes are missing. The
output depends only on the arguments, so a run can be repeated and stores nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame

SERVICE = "checkout"
DEFAULT_END = datetime(2026, 11, 30, tzinfo=UTC)
STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Incident:
    kind: str  # "error_burst", "latency_shift" or "cpu_saturation"
    start: datetime
    duration: timedelta
    series: str

    @property
    def end(self) -> datetime:
        return self.start + self.duration


def incidents(end: datetime = DEFAULT_END, days: int = 14) -> list[Incident]:
    """The incidents injected into a demo span ending at `end`, oldest first."""
    start = end - timedelta(days=days)

    def at(day: float, hour: float) -> datetime:
        return start + timedelta(days=day, hours=hour)

    planned = [
        Incident("latency_shift", at(3, 14), timedelta(hours=1), "http_latency_p99_seconds"),
        Incident("error_burst", at(6, 10), timedelta(minutes=40), "http_errors_total"),
        Incident("cpu_saturation", at(9, 16), timedelta(minutes=90), "cpu_utilization"),
        Incident("error_burst", at(11, 19), timedelta(hours=2), "http_errors_total"),
        Incident("latency_shift", at(12, 11), timedelta(hours=3), "http_latency_p99_seconds"),
    ]
    return [i for i in planned if i.end <= end and i.start >= start]


def generate(end: datetime = DEFAULT_END, days: int = 14, seed: int = 7) -> pd.DataFrame:
    """The demo's samples frame for `days` days ending at `end`."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(end=end - STEP, periods=int(days * 24 * 60), freq="1min", tz="UTC")
    load = _load_profile(times, rng)
    effects = _incident_masks(times, incidents(end, days))
    requests_per_s = 40.0 * load * rng.lognormal(0.0, 0.05, len(times))
    error_share = np.where(effects["error_burst"], 0.3, 0.001)
    errors_per_s = rng.poisson(requests_per_s * error_share * 60) / 60.0
    latency = 0.11 + 0.05 * load + rng.gamma(2.0, 0.006, len(times))
    latency = latency + np.where(effects["latency_shift"], 0.35, 0.0)
    cpu = np.clip(0.18 + 0.32 * load + rng.normal(0, 0.025, len(times)), 0, 1)
    cpu = np.where(effects["cpu_saturation"], rng.uniform(0.96, 1.0, len(times)), cpu)
    labels = {"service": SERVICE, "job": "checkout-api", "instance": "checkout-0:9100"}
    resets = [len(times) // 3, (2 * len(times)) // 3 + 17]
    frames = [
        make_frame(
            times, _counter(requests_per_s, resets), "http_requests_total", "counter", labels
        ),
        make_frame(times, _counter(errors_per_s, resets), "http_errors_total", "counter", labels),
        make_frame(times, latency, "http_latency_p99_seconds", "gauge", labels),
        make_frame(times, cpu, "cpu_utilization", "gauge", labels),
    ]
    return _drop_scrapes(pd.concat(frames, ignore_index=True), rng)


def _load_profile(times: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    hours = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    daily = 1.0 + 0.6 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
    weekend = np.where(times.dayofweek.to_numpy() >= 5, 0.7, 1.0)
    drift = np.cumsum(rng.normal(0, 0.002, len(times)))
    return np.clip(daily * weekend + drift - drift.mean(), 0.1, None)


def _incident_masks(times: pd.DatetimeIndex, planned: list[Incident]) -> dict[str, np.ndarray]:
    masks = {
        k: np.zeros(len(times), bool) for k in ("error_burst", "latency_shift", "cpu_saturation")
    }
    for incident in planned:
        masks[incident.kind] |= (times >= incident.start) & (times < incident.end)
    return masks


def _counter(rate_per_s: np.ndarray, resets: list[int]) -> np.ndarray:
    """Cumulative count of a per-second rate at one-minute steps, restarting at `resets`."""
    increments = rate_per_s * STEP.total_seconds()
    total = np.empty_like(increments)
    bounds = [0, *resets, len(increments)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        total[lo:hi] = np.cumsum(increments[lo:hi])
    return np.round(total)


def _drop_scrapes(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Remove a few short runs of samples, as missed scrapes do."""
    keep = np.ones(len(frame), bool)
    for rows in frame.groupby("series").indices.values():
        for _ in range(3):
            start = int(rng.integers(0, len(rows) - 30))
            keep[rows[start : start + int(rng.integers(3, 25))]] = False
    return frame[keep].reset_index(drop=True)
