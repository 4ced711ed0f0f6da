"""Per-series detection fanned out on a real Dask LocalCluster, worker processes and all."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace

import pandas as pd
import pytest

from slopipe.collect.csv_files import read_csv_source
from slopipe.collect.samples import make_frame
from slopipe.detect.batch import detect_all
from slopipe.detect.streaming import StreamingConfig
from slopipe.lake import Lake
from slopipe.lake.scores import ScoreTable
from slopipe.scale import Runner
from tests.conftest import NAB

# Small forests keep the suite quick; equality between runs does not depend on the size.
CONFIG = replace(StreamingConfig(), n_trees=40)
FILES = [
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    folder = tmp_path_factory.mktemp("batch")
    lake = Lake(folder / "lake")
    for name in FILES:
        lake.append(read_csv_source(NAB / "data" / name))
    times = pd.date_range("2024-01-01", periods=10, freq="5min", tz="UTC")
    lake.append(make_frame(times, range(10), "too_short"))
    return lake


@pytest.fixture(scope="module")
def in_process(lake, tmp_path_factory) -> tuple:
    scores = ScoreTable(tmp_path_factory.mktemp("scores") / "in-process")
    with Runner() as runner:
        report = detect_all(lake, scores, runner, config=CONFIG)
    return report, scores.read()


def test_every_series_is_scored_and_a_short_one_is_reported(in_process, lake):
    report, scores = in_process
    assert report.series == 4
    assert report.failed == {"too_short": "series too_short: 10 samples, need at least 288"}
    assert report.samples == len(scores) == sum(len(lake.read(n)) for n in lake.series_names()) - 10


def test_a_local_cluster_gives_the_same_scores_sample_for_sample(in_process, lake, tmp_path):
    scores = ScoreTable(tmp_path / "cluster")
    with Runner(workers=2) as runner:
        report = detect_all(lake, scores, runner, config=CONFIG)
    assert report.series == in_process[0].series and report.failed == in_process[0].failed
    pd.testing.assert_frame_equal(scores.read(), in_process[1])


def test_a_worker_killed_mid_task_changes_nothing(in_process, lake, tmp_path):
    scores = ScoreTable(tmp_path / "killed")
    with Runner(workers=2) as runner:
        pids = runner.client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killer = threading.Timer(1.5, os.kill, (victim, signal.SIGKILL))
        killer.start()
        started = time.monotonic()
        report = detect_all(lake, scores, runner, config=CONFIG)
        killer.join()
        assert time.monotonic() - started > 1.5  # the kill landed while tasks ran
        assert victim not in runner.client.run(os.getpid).values()  # that worker is gone
    assert report.series == 4
    stored = scores.read()
    assert not stored.duplicated(["series", "timestamp"]).any()
    pd.testing.assert_frame_equal(stored, in_process[1])


def test_nab_evaluation_on_a_local_cluster_equals_the_in_process_one(tmp_path):
    from slopipe.detect.evaluate import evaluate_detector

    data = tmp_path / "data"
    for name in FILES[:3]:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).symlink_to(NAB / "data" / name)
    labels = NAB / "labels" / "combined_windows.json"
    alone = evaluate_detector(data, labels, tmp_path / "a", CONFIG).as_dict()
    with Runner(workers=2) as runner:
        spread = evaluate_detector(data, labels, tmp_path / "b", CONFIG, runner=runner).as_dict()
    assert spread == alone and alone["files"] == 3
    for name in FILES[:3]:
        category, file = name.split("/")
        first = (tmp_path / "a" / category / f"slopipe_{file}").read_text()
        assert first == (tmp_path / "b" / category / f"slopipe_{file}").read_text()
