"""Scoring what is new: watermarks make every sample scored exactly once."""

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.detect.model import AnomalyModel, features_from_samples
from slopipe.lake import Lake
from slopipe.monitor.scoring import score_new
from slopipe.slo.store import SloStore


def minutes(start: str, count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=count, freq="1min", tz="UTC")
    return make_frame(times, 5 + rng.normal(0, 1, count), "cpu")


def test_samples_are_scored_once_across_runs(tmp_path):
    lake = Lake(tmp_path / "lake")
    store = SloStore(f"sqlite:///{tmp_path / 'slo.db'}")
    history = minutes("2024-01-01", 2 * 1440, seed=1)
    lake.append(history)
    model = AnomalyModel().fit(features_from_samples(history))
    start = {"cpu": pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()}

    first = score_new(lake, store, model, "1", start)
    assert first.scored == 1439  # (2024-01-02 00:00, 2024-01-02 23:59]
    assert score_new(lake, store, model, "1", start).scored == 0

    lake.append(minutes("2024-01-03", 60, seed=2))
    third = score_new(lake, store, model, "1", start)
    assert third.scored == 60
    assert store.watermarks()["cpu"] == pd.Timestamp("2024-01-03 00:59", tz="UTC")
    assert store.count("anomalies") == first.anomalies + third.anomalies
