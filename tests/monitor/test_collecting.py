"""The monitor's collect step against a real Prometheus: raw samples, from each watermark."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
import pytest

from slopipe.config import PrometheusSettings, Settings
from slopipe.lake import Lake
from slopipe.monitor.collecting import collect_new, collected_until, gap_seconds
from slopipe.slo.store import SloStore
from tests.fixtures.prom_live import LATENCY, SELECTORS, wait_for

pytestmark = pytest.mark.slow


def raw_samples(url: str, series: str, at: pd.Timestamp) -> pd.DataFrame:
    """What Prometheus stores of `series` in the ten minutes up to `at`, at scrape times."""
    params = {"query": f"{series}[10m]", "time": at.timestamp()}
    (result,) = httpx.get(f"{url}/api/v1/query", params=params).json()["data"]["result"]
    stamps_ms = [round(float(t) * 1000) for t, _ in result["values"]]
    values = [float(v) for _, v in result["values"]]
    return pd.DataFrame({"stamp_ms": stamps_ms, "value": values})


def prom_has(url: str) -> bool:
    params = {"query": LATENCY}
    return bool(httpx.get(f"{url}/api/v1/query", params=params).json()["data"]["result"])


def test_each_cycle_stores_the_new_raw_samples_once_at_their_scrape_times(tmp_path, app, prom):
    settings = Settings(
        home=tmp_path,
        prometheus=PrometheusSettings(url=prom.url, selectors=SELECTORS, timeout_seconds=5),
    )
    lake = Lake(tmp_path / "lake")
    store = SloStore(f"sqlite:///{tmp_path / 'slo.db'}")
    wait_for(lambda: prom_has(prom.url), 30, "a first scrape")

    first = collect_new(settings, lake, store, datetime.now(UTC))
    time.sleep(2.5)
    now = datetime.now(UTC)
    second = collect_new(settings, lake, store, now)

    stored = lake.read(LATENCY).sort_values("timestamp", ignore_index=True)
    assert first > 0 and second > 0
    assert len(lake.read()) == first + second
    assert stored["timestamp"].is_unique
    # Exactly Prometheus's samples up to the newest one stored: no grid, no gap.
    expected = raw_samples(prom.url, LATENCY, stored["timestamp"].max())
    stored_ms = stored["timestamp"].astype("int64") // 1000
    assert stored_ms.tolist() == expected["stamp_ms"].tolist()
    np.testing.assert_array_equal(stored["value"].to_numpy(), expected["value"].to_numpy())
    assert abs(collected_until(store) - now).total_seconds() < 0.001
    assert gap_seconds(store, now, step_seconds=1) == 0
