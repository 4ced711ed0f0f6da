"""MLflow runs logged from Dask workers by `slopipe detect`, against a real `mlflow server`."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from slopipe.collect.csv_files import read_csv_source
from slopipe.collect.samples import make_frame
from slopipe.detect import tracking
from slopipe.detect.batch import detect_all
from slopipe.detect.streaming import StreamingConfig
from slopipe.lake import Lake
from slopipe.lake.scores import ScoreTable
from slopipe.scale import Runner
from tests.conftest import NAB
from tests.fixtures.services import mlflow_server

CONFIG = replace(StreamingConfig(), n_trees=40)
FILES = [
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",
]
SHORT = "series too_short: 10 samples, need at least 288"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("tracked") / "lake")
    for name in FILES:
        lake.append(read_csv_source(NAB / "data" / name))
    times = pd.date_range("2024-01-01", periods=10, freq="5min", tz="UTC")
    lake.append(make_frame(times, range(10), "too_short"))
    return lake


def child_runs(server: str, parent_run_id: str) -> dict[str, dict]:
    """Per series: the child run's id, status, parameters, metrics and tags."""
    client = MlflowClient(server)
    parent = client.get_run(parent_run_id)
    handle = tracking.Tracking(server, parent.info.experiment_id, parent_run_id)
    runs = tracking.series_runs(client, handle)
    by_series = {r.data.tags["slopipe.series"]: r for r in runs}
    assert len(by_series) == len(runs), "a series has two runs"
    return {
        name: {
            "run_id": r.info.run_id,
            "status": r.info.status,
            "params": r.data.params,
            "metrics": r.data.metrics,
            "history": [len(client.get_metric_history(r.info.run_id, k)) for k in r.data.metrics],
        }
        for name, r in by_series.items()
    }


def comparable(runs: dict[str, dict]) -> dict[str, tuple]:
    return {n: (r["status"], r["params"], r["metrics"], r["history"]) for n, r in runs.items()}


@pytest.fixture(scope="module")
def in_process(server, lake, tmp_path_factory) -> tuple:
    scores = ScoreTable(tmp_path_factory.mktemp("scores") / "in-process")
    with Runner() as runner:
        report = detect_all(lake, scores, runner, config=CONFIG, tracking_uri=server)
    return report, scores.read(), child_runs(server, report.mlflow_run_id)


def test_each_scored_series_has_one_finished_child_run_with_its_figures(in_process, server):
    report, _, runs = in_process
    assert sorted(runs) == sorted(report.per_series) == sorted(n.split("/")[1][:-4] for n in FILES)
    for name, run in runs.items():
        figures = report.per_series[name]
        assert run["status"] == "FINISHED" and run["run_id"] == figures["run_id"]
        assert run["params"]["n_trees"] == "40" and run["params"]["series"] == name
        assert run["metrics"]["samples"] == figures["samples"] == 4032
        assert run["metrics"]["anomalies"] == figures["anomalies"]
        assert run["metrics"]["anomaly_score_max"] == figures["anomaly_score_max"]
        assert set(run["history"]) == {1}
    parent = MlflowClient(server).get_run(report.mlflow_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics == {
        "series": 3.0,
        "failed": 1.0,
        "samples": float(report.samples),
        "anomalies": float(report.anomalies),
    }
    assert report.failed == {"too_short": SHORT}
    path = MlflowClient(server).download_artifacts(report.mlflow_run_id, "failed_series.json")
    assert json.loads(Path(path).read_text()) == {"too_short": SHORT}


def test_a_worker_killed_mid_series_leaves_one_run_per_series_equal_to_in_process(
    in_process, server, lake, tmp_path
):
    scores = ScoreTable(tmp_path / "killed")
    with Runner(workers=2) as runner:
        pids = set(runner.client.run(os.getpid).values())
        killer = RunKiller(server, pids)
        killer.start()
        report = detect_all(lake, scores, runner, config=CONFIG, tracking_uri=server)
        killer.done.set()
        killer.join()
        assert killer.victim in pids and killer.victim not in runner.client.run(os.getpid).values()
    runs = child_runs(server, report.mlflow_run_id)
    # The run the dead worker left RUNNING was taken over by the retry, not doubled.
    assert runs[killer.series]["run_id"] == killer.run_id
    assert comparable(runs) == comparable(in_process[2])
    assert report.failed == in_process[0].failed
    pd.testing.assert_frame_equal(scores.read(), in_process[1])


class RunKiller(threading.Thread):
    """SIGKILLs the cluster worker that holds the first RUNNING child run it sees."""

    def __init__(self, server: str, pids: set[int]):
        super().__init__(daemon=True)
        self.client, self.pids = MlflowClient(server), pids
        self.experiment_id = self.client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id
        self.done = threading.Event()
        self.victim = self.run_id = self.series = None

    def run(self) -> None:
        while not self.done.is_set():
            query = "attributes.status = 'RUNNING'"
            for run in self.client.search_runs([self.experiment_id], query):
                worker = run.data.tags.get("slopipe.worker", ":0")
                pid = int(worker.rsplit(":", 1)[1])
                if pid in self.pids:
                    self.victim, self.run_id = pid, run.info.run_id
                    self.series = run.data.tags["slopipe.series"]
                    os.kill(pid, signal.SIGKILL)
                    return
            time.sleep(0.1)


def test_logging_a_series_twice_keeps_one_run_and_one_value_per_metric(server):
    parent = tracking.start_parent(server, "abc", CONFIG, experiment="twice")
    figures = {"samples": 10, "anomalies": 1}
    first = tracking.open_series_run(parent, 'up{job="a"}', "abc", CONFIG)
    again = tracking.open_series_run(parent, 'up{job="a"}', "abc", CONFIG)  # before it closed
    tracking.close_series_run(parent, again, figures)
    retried = tracking.open_series_run(parent, 'up{job="a"}', "abc", CONFIG)  # after
    tracking.close_series_run(parent, retried, figures)
    assert first.info.run_id == again.info.run_id == retried.info.run_id
    [run] = child_runs(server, parent.parent_run_id).values()
    assert run["metrics"] == {"samples": 10.0, "anomalies": 1.0} and run["history"] == [1, 1]


def test_of_two_runs_made_at_once_for_a_series_the_older_is_kept(server):
    parent = tracking.start_parent(server, "abc", CONFIG, experiment="twins")
    client = MlflowClient(server)
    tags = {
        "mlflow.parentRunId": parent.parent_run_id,
        "slopipe.series": "up",
        tracking.SERIES_KEY: tracking.series_key("up"),
    }
    older = client.create_run(parent.experiment_id, run_name="up", tags=tags)
    time.sleep(0.01)  # start times in milliseconds: the second starts later
    client.create_run(parent.experiment_id, run_name="up", tags=tags)
    kept = tracking.open_series_run(parent, "up", "abc", CONFIG)
    assert kept.info.run_id == older.info.run_id
    assert list(child_runs(server, parent.parent_run_id)) == ["up"]


def test_slopipe_detect_logs_to_the_tracking_server_it_is_given(server, home, monkeypatch):
    from typer.testing import CliRunner

    from slopipe.cli.main import app

    Lake(home / "lake").append(read_csv_source(NAB / "data" / FILES[2]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    result = CliRunner().invoke(app, ["-q", "detect", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [(name, run)] = child_runs(server, report["mlflow_run_id"]).items()
    assert name == "art_daily_small_noise" and run["status"] == "FINISHED"
    assert run["metrics"]["anomalies"] == report["per_series"][name]["anomalies"]
    assert run["params"]["n_trees"] == "300"
