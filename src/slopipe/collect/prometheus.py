"""Series names, and `query_range` reads for SLIs computed by Prometheus (`slo.sources`).

`slopipe collect` and the monitor read raw samples with `raw`; this module's `fetch_series`
reads values at a query step, which is what an SLI query such as `sum(rate(...))` gives.
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.errors import CollectError

log = logging.getLogger(__name__)


def series_name(metric: dict[str, str]) -> str:
    """A series' lake name: `name{label="value",...}` with labels sorted, values escaped as
    in PromQL, so the name is also a selector of the series."""
    name = metric.get("__name__", "")
    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}" if labels else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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
