"""Live data: a test-owned exporter scraped every second by a real Prometheus."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
from prometheus_client.core import GaugeMetricFamily

from slopipe.collect.raw import collect_into
from slopipe.config import PrometheusSettings
from slopipe.lake import Lake
from slopipe.prepare import prepare
from slopipe.prepare.clean import counter_increases
from tests.fixtures.collecting import invoke, lake_frame

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


DEPTH = "demo_queue_depth"


class ExposureLog:
    """A collector serving `demo_queue_depth{queue=...}` from `values`, which notes what
    each scrape was served: the samples Prometheus holds, known on the exporter's side."""

    def __init__(self, **values: float) -> None:
        self.values = values
        self.served: list[dict[str, float]] = []
        self._lock = threading.Lock()

    def expose(self, **values: float) -> None:
        with self._lock:
            self.values = values

    def collect(self):
        with self._lock:
            snapshot = dict(self.values)
            self.served.append(snapshot)
        family = GaugeMetricFamily(DEPTH, "Jobs waiting.", labels=["queue"])
        for queue, value in sorted(snapshot.items()):
            family.add_metric([queue], value)
        yield family

    def expected(self, instance: str) -> dict[str, list[float]]:
        """Per lake series, the values it was served with, in order."""
        queues = sorted({q for snapshot in self.served for q in snapshot})
        return {
            f'{DEPTH}{{instance="{instance}",job="demo",queue="{q}"}}': [
                s[q] for s in self.served if q in s
            ]
            for q in queues
        }


def stored_values(path) -> dict[str, list[float]]:
    stored = lake_frame(path)
    return {name: rows["value"].tolist() for name, rows in stored.groupby("series")}


def test_staleness_markers_are_counted_as_rejected_and_never_stored(
    live_prometheus, home, tmp_path, monkeypatch
):
    exposure = ExposureLog(a=1.0, b=10.0)
    live_prometheus.exporter.registry.register(exposure)
    live_prometheus.wait_scraped(f'{DEPTH}{{queue="b"}}', 10.0)
    exposure.expose(a=2.0, b=11.0)
    live_prometheus.wait_scraped(f'{DEPTH}{{queue="b"}}', 11.0)
    # queue b leaves the exposition: one staleness marker for it at the next scrape ...
    exposure.expose(a=3.0)
    live_prometheus.wait_scraped(f'{DEPTH}{{queue="a"}}', 3.0)
    # ... and the target goes down: one for queue a at the first failed scrape.
    live_prometheus.exporter.stop()
    live_prometheus.wait_scraped('up{job="demo"}', 0.0)
    expected = exposure.expected(live_prometheus.exporter.target)
    samples = sum(len(v) for v in expected.values())

    args = ["collect", "--url", live_prometheus.url, "--selector", DEPTH]
    by_remote_read = invoke(*args, "--json", "--home", str(tmp_path / "remote"))
    assert by_remote_read.exit_code == 0, by_remote_read.stderr
    report = json.loads(by_remote_read.stdout)
    assert (report["series"], report["samples"], report["new_samples"]) == (2, samples, samples)
    assert report["rejected"] == 2
    assert report["rejected_by_reason"] == {"stale_marker": 2, "nan": 0, "infinite": 0}
    assert stored_values(tmp_path / "remote" / "lake") == expected

    # The query API drops staleness markers from range selections: same samples, none seen.
    monkeypatch.setenv("SLOPIPE_PROMETHEUS__READ_API", "query")
    by_query = invoke(*args, "--json", "--home", str(tmp_path / "query"))
    monkeypatch.delenv("SLOPIPE_PROMETHEUS__READ_API")
    assert by_query.exit_code == 0, by_query.stderr
    assert json.loads(by_query.stdout)["rejected_by_reason"]["stale_marker"] == 0
    pd.testing.assert_frame_equal(
        lake_frame(tmp_path / "query" / "lake"), lake_frame(tmp_path / "remote" / "lake")
    )

    # Without --json, the table of the same run into an empty lake shows the counts.
    table = invoke(*args, "--home", str(tmp_path / "again"))
    assert table.exit_code == 0, table.stderr
    assert re.search(r"rejected, not stored\W*2\b", table.stdout), table.stdout
    assert re.search(r"stale markers\W*2\b", table.stdout), table.stdout
