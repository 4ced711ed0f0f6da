"""`slopipe run --labels`: the training run in MLflow carries NAB and event metrics of the
held-out span, and a bad labels file stops the run before anything is stored."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.conftest import NAB
from tests.e2e.conftest import slopipe

LABELS = NAB / "labels" / "combined_windows.json"
AWS = NAB / "data" / "realAWSCloudwatch"
# Both files run 2014-02-14 to 2014-02-28; the newest 30 % starts near 2014-02-24 09:40.
# 24ae8d's two windows lie after that, 53ea38's two before it.
FILES = ("ec2_cpu_utilization_24ae8d", "ec2_cpu_utilization_53ea38")
HELD_OUT_WINDOWS = [
    ("2014-02-26 13:45", "2014-02-27 06:25"),
    ("2014-02-27 08:55", "2014-02-28 01:35"),
]


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for name in FILES:
        (data / f"{name}.csv").symlink_to(AWS / f"{name}.csv")
    home = tmp_path_factory.mktemp("labelled") / "home"
    result = slopipe("run", "--source", f"csv:{data}", "--labels", str(LABELS), "--json", home=home)
    assert result.returncode == 0, result.stderr
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    run = mlflow.search_runs(search_all_experiments=True, output_format="list")[0]
    return home, run.data.metrics


def test_the_training_run_counts_the_held_out_windows(labelled_run):
    _, metrics = labelled_run
    assert (metrics["labelled_series"], metrics["labelled_windows"]) == (2, 2)
    for name in ("nab_standard", "nab_reward_low_FP_rate", "nab_reward_low_FN_rate"):
        assert -1000 < metrics[name] <= 100
        assert metrics[f"nab_fixed_{name[4:]}"] <= metrics[name] + 1e-9  # swept is the best


def test_event_recall_is_the_share_of_windows_the_registered_model_flags(labelled_run):
    home, metrics = labelled_run
    model = mlflow.pyfunc.load_model("models:/slopipe-anomaly/1")
    frame = pd.read_csv(AWS / f"{FILES[0]}.csv")
    frame = frame.assign(series=FILES[0], timestamp=frame["timestamp"] + "Z")  # as the schema says
    scored = model.predict(frame[["timestamp", "series", "value"]])
    stamps = pd.to_datetime(scored["timestamp"], utc=True)
    caught = [
        bool(
            scored["is_anomaly"][
                (stamps >= pd.Timestamp(a, tz="UTC")) & (stamps <= pd.Timestamp(b, tz="UTC"))
            ].any()
        )
        for a, b in HELD_OUT_WINDOWS
    ]
    assert metrics["event_recall"] == pytest.approx(np.mean(caught))


def test_a_bad_labels_file_stops_the_run_before_anything_is_stored(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text("[1, 2")
    home = tmp_path / "home"
    result = slopipe("run", "--labels", str(bad), "--json", home=home)
    assert result.returncode == 2
    assert f"{bad}:1: labels are not JSON" in result.stderr
    assert not (home / "lake").exists()
