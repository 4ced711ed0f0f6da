"""Metric sources of SLIs: the lake, or a Prometheus server. This is the SLO stage's I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd

from slopipe.collect.prometheus import fetch_series
from slopipe.config import PrometheusSettings
from slopipe.errors import SloError
from slopipe.lake import Lake
from slopipe.prepare.clean import sample_values
from slopipe.slo.model import MetricSource, SloDefinition

#: Read this much before a window so that a counter's first increase in it is known.
LEAD = timedelta(hours=1)


class Sources:
    """Fetch SLI data: `sources(source, start, end)` gives timestamp and value rows in
    (start, end], counters as per-step increases."""

    def __init__(self, lake: Lake, prometheus: PrometheusSettings):
        self.lake = lake
        self.prometheus = prometheus

    def __call__(
        self, source: MetricSource, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        if source.type == "lake":
            samples = self.lake.read(source.series, start - LEAD, end)
        else:
            samples = self._prometheus(source.query, start - LEAD, end)
        values = sample_values(samples)
        return values[values["timestamp"] > start].reset_index(drop=True)

    def window_end(self, slo: SloDefinition) -> pd.Timestamp:
        """The newest sample among the SLO's sources (now, for Prometheus sources)."""
        ends = []
        for source in slo.sources():
            if source.type == "lake":
                ends.append(self.lake.read(source.series)["timestamp"].max())
            else:
                ends.append(pd.Timestamp(datetime.now(UTC)))
        ends = [e for e in ends if pd.notna(e)]
        if not ends:
            raise SloError(f"slo {slo.name}: its series hold no samples")
        return max(ends)

    def _prometheus(self, query: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        if not self.prometheus.url:
            raise SloError(f"query {query!r} needs prometheus.url (SLOPIPE_PROMETHEUS__URL)")
        settings = self.prometheus
        with httpx.Client(base_url=settings.url, timeout=settings.timeout_seconds) as client:
            frames = fetch_series(
                client, query, start.to_pydatetime(), end.to_pydatetime(), settings.step_seconds
            )
        if len(frames) != 1:
            raise SloError(f"query {query!r} returned {len(frames)} series; aggregate it to one")
        return frames[0].assign(series=query)


def check_series(slo: SloDefinition, known: set[str]) -> None:
    """Refuse an SLO that reads lake series the lake does not hold."""
    for source in slo.sources():
        if source.type == "lake" and source.series not in known:
            raise SloError(
                f"slo {slo.name}: series {source.series!r} is not in the lake "
                "(collect it first, or fix metricSource.spec.series)"
            )
