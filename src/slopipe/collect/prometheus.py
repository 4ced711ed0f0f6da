"""Series names, and `query_range` reads for SLIs computed by Prometheus (`slo.sources`).

`slopipe collect` reads raw samples with `raw`; this module's `fetch_series` reads values at a
query step, which is what an SLI query such as `sum(rate(...))` gives.
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
import numpy as np
import pandas as pd

from slopipe.collect.samples import empty_frame, make_frame
from slopipe.config import PrometheusSettings
from slopipe.errors import CollectError, ConfigError

log = logging.getLogger(__name__)


def series_name(metric: dict[str, str]) -> str:
    """A series' lake name: `name{label="value",...}` with labels sorted, values escaped as
    in PromQL, so the name is also a selector of the series."""
    name = metric.get("__name__", "")
    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}" if labels else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def query_range_source(
    settings: PrometheusSettings, start: datetime, end: datetime
) -> pd.DataFrame:
    """Every series matching the configured selectors between `start` and `end`, at the
    query step (values on a step grid, not raw samples: the monitor's live view).

    TODO: the monitor moves to the raw-sample collector once scoring handles raw scrape
    times without snapping them onto a grid.
    """
    if not settings.url:
        raise ConfigError("prometheus.url is not set (SLOPIPE_PROMETHEUS__URL or config file)")
    if not settings.selectors:
        raise ConfigError("prometheus.selectors is empty: name at least one series selector")
    frames = [empty_frame()]
    with httpx.Client(base_url=settings.url, timeout=settings.timeout_seconds) as client:
        for selector in settings.selectors:
            frames.extend(fetch_series(client, selector, start, end, settings.step_seconds))
    return pd.concat(frames, ignore_index=True)


def query_range(
    client: httpx.Client, query: str, start: datetime, end: datetime, step_seconds: int
) -> list[dict]:
    """The `result` list of one `query_range` call; errors name the query."""
    params = {
        "query": query,
        "start": start.timestamp(),
        "end": end.timestamp(),
        "step": step_seconds,
    }
    try:
        response = client.get("/api/v1/query_range", params=params)
    except httpx.HTTPError as err:
        raise CollectError(f"prometheus {client.base_url}: {err}") from None
    body = _json(response)
    if response.status_code != 200 or body.get("status") != "success":
        raise CollectError(f"prometheus rejected {query!r}: {body.get('error', response.text)}")
    return body["data"]["result"]


def fetch_series(
    client: httpx.Client, selector: str, start: datetime, end: datetime, step_seconds: int
) -> list[pd.DataFrame]:
    result = query_range(client, selector, start, end, step_seconds)
    log.info("prometheus query_range %s: %d series", selector, len(result))
    frames = []
    for item in result:
        metric = item["metric"]
        times = pd.to_datetime([float(t) for t, _ in item["values"]], unit="s", utc=True)
        values = np.array([float(v) for _, v in item["values"]])
        kind = "counter" if metric.get("__name__", "").endswith("_total") else "gauge"
        labels = {k: v for k, v in metric.items() if k != "__name__"}
        frames.append(make_frame(times, values, series_name(metric), kind, labels))
    return frames


def _json(response: httpx.Response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {"error": response.text[:200]}
