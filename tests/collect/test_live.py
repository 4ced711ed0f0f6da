"""Live data: a test-owned exporter scraped every second by a real Prometheus."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd

from slopipe.collect.raw import collect_into
from slopipe.config import PrometheusSettings
from slopipe.lake import Lake
from slopipe.prepare import prepare
from slopipe.prepare.clean import counter_increases
from tests.fixtures.collecting import lake_frame

QUERY = 'demo_requests_total{route="/checkout"}'


def live_settings(url: str) -> PrometheusSettings:
    return PrometheusSettings(url=url, selectors=["demo_requests_total"], lookback_days=1)


def distinct_runs(values: list[float]) -> list[float]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def test_an_exporter_restart_is_a_counter_reset_not_a_traffic_spike(live_prometheus, tmp_path):
    counter = live_prometheus.exporter.requests.labels(route="/checkout")
    for step in (5, 7, "restart", 3, 6):
        if step == "restart":
            counter.reset()
        else:
            counter.inc(step)
        live_prometheus.wait_scraped(QUERY, counter._value.get())
    collect_into(Lake(tmp_path / "lake"), live_settings(live_prometheus.url))
    stored = lake_frame(tmp_path / "lake")

    assert set(stored["kind"]) == {"counter"}  # from Prometheus's metadata
    assert distinct_runs(stored["value"].tolist())[-5:] == [5.0, 12.0, 0.0, 3.0, 9.0]
    per_sample, resets = counter_increases(stored["value"].to_numpy())
    assert resets == 1
    # 7 after 5, nothing at the restart (0), then 3 and 6; and 5 if a 0 was scraped first.
    assert sorted(set(per_sample[1:]) - {0.0}) in ([3.0, 6.0, 7.0], [3.0, 5.0, 6.0, 7.0])
    prepared, report = prepare(stored)
    increases = prepared["value"].dropna()
    assert report.counter_resets == 1
    assert increases.min() >= 0
    assert increases.sum() == per_sample[1:].sum() in (16.0, 21.0)


def test_collecting_live_data_twice_equals_collecting_it_once(live_prometheus, tmp_path):
    counter = live_prometheus.exporter.requests.labels(route="/checkout")
    counter.inc(1)
    live_prometheus.wait_scraped(QUERY, 1)
    middle = datetime.now(UTC)
    counter.inc(1)
    live_prometheus.wait_scraped(QUERY, 2)
    end = datetime.now(UTC)
    time.sleep(1.5)  # let a scrape in flight at `end` land
    settings = live_settings(live_prometheus.url)
    twice, once = Lake(tmp_path / "twice"), Lake(tmp_path / "once")
    first = collect_into(twice, settings, until=middle)
    second = collect_into(twice, settings, until=end)
    collect_into(once, settings, until=end)
    stored = lake_frame(tmp_path / "twice")
    pd.testing.assert_frame_equal(stored, lake_frame(tmp_path / "once"))
    assert first.new_samples > 0 and second.new_samples > 0
    assert not stored.duplicated(["series", "timestamp"]).any()
    assert stored["timestamp"].max() <= pd.Timestamp(end)
    assert stored["timestamp"].max() > pd.Timestamp(end) - timedelta(seconds=3)
