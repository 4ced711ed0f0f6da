"""Metric sources of SLIs: the lake, or a Prometheus server. This is the SLO stage's I/O."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd

from slopipe.collect.prometheus import fetch_series
from slopipe.config import PrometheusSettings
from slopipe.errors import SloError, SloValidationError
from slopipe.lake import Lake
from slopipe.prepare.clean import sample_values
from slopipe.slo.model import MetricSource, RatioIndicator, SloDefinition, format_le

log = logging.getLogger(__name__)

#: Read this much before a window so that a counter's first increase in it is known.
LEAD = timedelta(hours=1)
_SERIES = re.compile(r"^(?P<name>[^{]+)(\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Sources:
    """Fetch SLI data: `sources(source, start, end)` gives timestamp and value rows in
    (start, end], counters as per-step increases."""

    def __init__(self, lake: Lake, prometheus: PrometheusSettings):
        self.lake = lake
        self.prometheus = prometheus
        self._names: list[str] | None = None

    def __reduce__(self):
        # Shipped to a Dask worker as the lake's path and the Prometheus settings (with
        # their credentials, which the worker needs): it reads the lake itself, and no
        # cached table, lock or series names travel.
        return _sources_at, (str(self.lake.path), self.prometheus)

    def __call__(
        self, source: MetricSource, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        if source.type == "lake":
            samples = self.lake.read(self._lake_series(source), start - LEAD, end)
        else:
            samples = self._prometheus(source.query, start - LEAD, end)
        # Samples at their own times (no grid), counters as increases; several series
        # (bucket series of many label sets) add up per timestamp.
        parts = [sample_values(one) for _, one in samples.groupby("series", sort=True)]
        if not parts:
            return pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[us, UTC]"), "value": []})
        values = pd.concat(parts, ignore_index=True)
        values = values[values["timestamp"] > start]
        if len(parts) == 1:
            return values.reset_index(drop=True)
        return values.groupby("timestamp", as_index=False)["value"].sum()

    def _lake_series(self, source: MetricSource) -> list[str]:
        if source.le is None:
            return [source.series]
        if self._names is None:
            self._names = self.lake.series_names()
        return bucket_series(source, self._names)

    def window_end(self, slo: SloDefinition) -> pd.Timestamp:
        """The newest sample among the SLO's sources (now, for Prometheus sources)."""
        ends = []
        for source in slo.sources():
            if source.type == "lake":
                ends.append(self.lake.read(self._lake_series(source))["timestamp"].max())
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
        step = settings.step_seconds
        # A Sloth-style query over {{.window}} is a rate: ask for it over one step and turn
        # it into per-step increases, then into a counter for `prepare`.
        templated = "{{.window}}" in query
        text = query.replace("{{.window}}", f"{step}s")
        with httpx.Client(base_url=settings.url, timeout=settings.timeout_seconds) as client:
            frames = fetch_series(client, text, start.to_pydatetime(), end.to_pydatetime(), step)
        if len(frames) > 1:
            raise SloError(f"query {query!r} returned {len(frames)} series; aggregate it to one")
        if not frames:
            return pd.DataFrame(columns=["timestamp", "series", "labels", "kind", "value"])
        frame = frames[0].assign(series=query)
        if templated:
            frame = frame.assign(value=(frame["value"] * step).cumsum(), kind="counter")
        return frame


def _sources_at(lake_path: str, prometheus: PrometheusSettings) -> Sources:
    return Sources(Lake(Path(lake_path)), prometheus)


def parse_series(name: str) -> tuple[str, dict[str, str]]:
    """`http_requests_total{code="500",job="api"}` as its metric name and labels."""
    match = _SERIES.match(name)
    if not match:
        return name, {}
    return match.group("name"), dict(_LABEL.findall(match.group("labels") or ""))


def bucket_series(source: MetricSource, names: list[str]) -> list[str]:
    """Lake series of a histogram bucket: same metric, matching labels, `le` equal once
    normalised ("0.30", "3e-1" and "0.3" are one bound)."""
    from slopipe.slo.openslo import parse_le

    wanted = dict(_LABEL.findall(source.matchers))
    found = []
    for name in names:
        metric, labels = parse_series(name)
        if metric != source.series or "le" not in labels:
            continue
        if parse_le(labels.pop("le")) == source.le and wanted.items() <= labels.items():
            found.append(name)
    return found


def check_series(slo: SloDefinition, known: set[str]) -> None:
    """Refuse an SLO that reads lake series the lake does not hold.

    The bad series of a ratio SLI may be missing: an error counter often appears only with
    the first error, and until then it counts as zero errors.
    """
    indicator = slo.indicator
    for source in slo.sources():
        if source.type != "lake":
            continue
        if source.le is not None:
            _check_bucket(slo, source, known)
        elif source.series not in known:
            if isinstance(indicator, RatioIndicator) and source == indicator.bad:
                log.warning(
                    "slo %s: bad series %r is not in the lake yet; counted as zero errors",
                    slo.name,
                    source.series,
                )
                continue
            raise SloError(
                f"slo {slo.name}: series {source.series!r} is not in the lake "
                "(collect it first, or fix metricSource.spec.series)"
            )


def _check_bucket(slo: SloDefinition, source: MetricSource, known: set[str]) -> None:
    bounds = set()
    for name in known:
        metric, labels = parse_series(name)
        if metric == source.series and "le" in labels:
            from slopipe.slo.openslo import parse_le

            bounds.add(parse_le(labels["le"]))
    if source.le not in bounds:
        listed = ", ".join(format_le(b) for b in sorted(b for b in bounds if b is not None))
        raise SloValidationError(
            slo.name,
            "spec.indicator.spec.ratioMetric.metricSource.spec.le",
            f"{format_le(source.le)} is not a bucket boundary of {source.series} "
            f"(boundaries: {listed or 'none in the lake'})",
        )
