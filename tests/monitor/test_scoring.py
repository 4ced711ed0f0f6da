"""Scoring what is new: watermarks make every sample scored exactly once."""

import pickle

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.detect.model import AnomalyModel, prepared_rows
from slopipe.detect.streaming import StreamingConfig
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
    model = AnomalyModel(StreamingConfig(n_trees=50)).fit(prepared_rows(history))
    start = {"cpu": pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()}

    first = score_new(lake, store, model, "1", start)
    assert first.scored == 1439  # (2024-01-02 00:00, 2024-01-02 23:59]
    assert score_new(lake, store, model, "1", start).scored == 0

    lake.append(minutes("2024-01-03", 60, seed=2))
    third = score_new(lake, store, model, "1", start)
    assert third.scored == 60
    assert store.watermarks()["cpu"] == pd.Timestamp("2024-01-03 00:59", tz="UTC")
    assert store.count("anomalies") == first.anomalies + third.anomalies


def test_each_series_is_scored_with_its_history_window_and_unknown_series_wait(tmp_path, caplog):
    lake = Lake(tmp_path / "lake")
    store = SloStore(f"sqlite:///{tmp_path / 'slo.db'}")
    history = minutes("2024-01-01", 3 * 1440, seed=1)
    lake.append(pd.concat([history, minutes("2024-01-01", 3 * 1440, seed=3).assign(series="new")]))
    model = AnomalyModel(StreamingConfig(n_trees=50)).fit(prepared_rows(history.head(2000)))
    mark = pd.Timestamp("2024-01-03 12:00", tz="UTC")

    warned = set()
    result = score_new(lake, store, model, "1", {"cpu": mark, "new": mark}, warned)

    # A day and 2,028 one-minute rows before the watermark: the window the model asks for.
    window = history[history["timestamp"] >= mark - model.history("cpu")]
    expected = pickle.loads(pickle.dumps(model)).score(window)  # a copy remembering nothing
    assert model.history("cpu") == pd.Timedelta(minutes=1440 + 2028)
    assert result.scored == 719 and set(store.watermarks()) == {"cpu"}
    assert result.latest_scores == {"cpu": expected["anomaly_score"].iloc[-1]}
    assert caplog.text.count("no forest for 1 series (new)") == 1
    score_new(lake, store, model, "1", {"cpu": mark, "new": mark}, warned)  # the next cycle
    assert caplog.text.count("no forest for 1 series (new)") == 1  # said once
