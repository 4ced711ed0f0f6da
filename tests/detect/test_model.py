"""The pipeline's anomaly model: a frozen forest per series, calibrated like the streaming
detector; the contract every detector here keeps."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from slopipe.detect.forest import FlatForest
from slopipe.detect.model import AnomalyModel, prepared_rows
from slopipe.detect.streaming import StreamingConfig, postprocess
from slopipe.errors import DetectError
from tests.conftest import NAB

SMALL = StreamingConfig(n_trees=50)
NAB_FILE = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
TRAIN_ROWS = 2822  # the older 70 % of its 4,032 rows, as `slopipe run` splits


def samples(seed: int = 1, days: int = 3, spike_at: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=days * 288, freq="5min", tz="UTC")
    daily = np.sin(2 * np.pi * np.arange(len(times)) / 288)
    values = 10 + 3 * daily + rng.normal(0, 0.3, len(times))
    if spike_at is not None:
        values[spike_at] += 15
    return pd.DataFrame({"timestamp": times, "series": "s", "value": values})


def nab_samples() -> pd.DataFrame:
    frame = pd.read_csv(NAB_FILE)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.assign(series="ec2_cpu")


@pytest.fixture(scope="module")
def model() -> AnomalyModel:
    return AnomalyModel(SMALL).fit(prepared_rows(samples()))


def test_scores_of_a_nab_series_equal_a_forest_fitted_by_hand_and_postprocessed():
    data = nab_samples()
    model = AnomalyModel().fit(prepared_rows(data.head(TRAIN_ROWS)))
    scored = model.score(data)

    # By hand: value and its difference to 288 rows (one day of 5-minute rows) earlier.
    values = data["value"].to_numpy(float)
    seasonal = np.concatenate([np.zeros(288), values[288:] - values[:-288]])
    matrix = np.column_stack([values, seasonal])
    forest = IsolationForest(n_estimators=300, random_state=0).fit(matrix[806:TRAIN_ROWS])
    stamps = data["timestamp"].dt.tz_convert(None).to_numpy("datetime64[ns]")
    expected, flags = postprocess(stamps, values, -forest.score_samples(matrix), StreamingConfig())

    assert len(scored) == 4032
    np.testing.assert_array_equal(scored["anomaly_score"].to_numpy(), expected)
    np.testing.assert_array_equal(scored["is_anomaly"].to_numpy(), flags)
    assert scored["is_anomaly"].sum() == (expected >= 0.4).sum() > 0


def test_an_obvious_spike_scores_highest_and_is_flagged(model):
    scored = model.score(samples(seed=2, spike_at=700))
    assert scored["anomaly_score"].idxmax() == 700
    assert bool(scored.loc[700, "is_anomaly"])


def test_scores_lie_in_the_unit_interval_and_flags_follow_the_fixed_threshold(model):
    scored = model.score(samples(seed=6, spike_at=650))
    assert scored["anomaly_score"].between(0.0, 1.0).all()
    flags = scored["anomaly_score"] >= SMALL.flag_threshold
    assert (scored["is_anomaly"] == flags).all()


def test_the_same_seed_gives_the_same_scores():
    rows = prepared_rows(samples())
    first = AnomalyModel(StreamingConfig(n_trees=50, seed=3)).fit(rows).score_rows(rows)
    again = AnomalyModel(StreamingConfig(n_trees=50, seed=3)).fit(rows).score_rows(rows)
    pd.testing.assert_frame_equal(first, again)


def test_a_pickled_model_scores_the_same(model):
    restored = pickle.loads(pickle.dumps(model))
    data = samples(seed=4)
    pd.testing.assert_frame_equal(model.score(data), restored.score(data))


def test_a_model_pickled_by_an_earlier_slopipe_says_to_retrain():
    old = AnomalyModel()
    del old.__dict__["forests"]
    with pytest.raises(DetectError, match="earlier slopipe.*slopipe run"):
        pickle.loads(pickle.dumps(old))


def test_column_and_row_order_do_not_matter(model):
    data = samples(seed=5)
    reordered = data[["value", "series", "timestamp"]].iloc[::-1]
    pd.testing.assert_frame_equal(model.score(data), model.score(reordered))


def test_a_missing_column_is_a_clear_error(model):
    with pytest.raises(DetectError, match="samples lack column\\(s\\) value"):
        model.score(samples().drop(columns="value"))


def test_a_series_without_a_forest_is_an_error_naming_it(model):
    other = pd.concat([samples(), samples().assign(series="new_one")])
    with pytest.raises(DetectError, match="no forest for series new_one"):
        model.score(other)


def test_each_series_is_scored_by_its_own_forest():
    calm = samples(seed=1)
    loud = samples(seed=2).assign(series="loud", value=lambda f: f["value"] * 1000)
    both = AnomalyModel(SMALL).fit(prepared_rows(pd.concat([calm, loud])))
    alone = AnomalyModel(SMALL).fit(prepared_rows(calm))
    scored = both.score(pd.concat([calm, loud]))
    pd.testing.assert_frame_equal(
        scored[scored["series"] == "s"].reset_index(drop=True), alone.score(calm)
    )


def test_a_series_too_short_to_train_gets_no_forest_and_is_named():
    short = samples(seed=3).head(100).assign(series="short")
    model = AnomalyModel(SMALL).fit(prepared_rows(pd.concat([samples(), short])))
    assert model.series == ["s"] and model.training["too_short"] == {"short": 100}
    with pytest.raises(DetectError, match="needs 288 rows of a series, the longest has 100"):
        AnomalyModel(SMALL).fit(prepared_rows(short))


def test_history_is_a_day_and_the_baseline_rows_at_the_series_step(model):
    assert model.history("s") == pd.Timedelta(days=1) + 2028 * pd.Timedelta(minutes=5)


def test_counters_are_scored_on_their_increases():
    data = samples().assign(kind="counter", value=lambda f: f["value"].cumsum())
    model = AnomalyModel(SMALL).fit(prepared_rows(data))
    scored = model.score(data)
    assert len(scored) == len(data) - 1  # the first sample has no increase
    np.testing.assert_allclose(scored["value"], np.diff(data["value"]), rtol=1e-12)


class CountingForest:
    """The real (flattened) forest, counting the rows it is asked to score."""

    def __init__(self, forest):
        self.forest, self.rows = forest, 0

    def score_samples(self, matrix):
        self.rows += len(matrix)
        return self.forest.score_samples(matrix)


def test_a_sliding_window_scores_as_a_fresh_model_with_the_forest_run_on_new_rows_only():
    data = prepared_rows(samples(days=5, spike_at=4 * 288 + 100))
    warm = AnomalyModel(SMALL).fit(data.head(3 * 288))
    fresh = pickle.dumps(warm)  # copies unpickled from it remember nothing
    counting = warm._flat["s"] = CountingForest(FlatForest(warm.forests["s"]))
    window = 2 * 288  # two days of 5-minute rows
    for end in range(3 * 288, 5 * 288 + 1, 12):
        rows = data.iloc[end - window : end]
        before = counting.rows
        got = warm.score_rows(rows)
        pd.testing.assert_frame_equal(got, pickle.loads(fresh).score_rows(rows))
        if end > 3 * 288:
            # new: the 12 new rows, and the 12 whose day-old value left the window (their
            # seasonal difference is now 0); every other row is as the last window had it
            assert counting.rows - before == 12 + 12
    assert warm.score_rows(data.iloc[-window:])["is_anomaly"].any()
    assert warm._raw_memory and not pickle.loads(pickle.dumps(warm))._raw_memory
