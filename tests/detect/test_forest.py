"""The flattened forest scores exactly as scikit-learn's IsolationForest does."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from slopipe.detect.forest import FLAT_MAX_ROWS, FlatForest
from slopipe.detect.streaming import seasonal_features
from tests.conftest import NAB

NAB_FILE = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"


@pytest.fixture(scope="module")
def nab_matrix() -> np.ndarray:
    frame = pd.read_csv(NAB_FILE)
    stamps = pd.to_datetime(frame["timestamp"]).to_numpy("datetime64[ns]")
    return seasonal_features(stamps, frame["value"].to_numpy(float))


@pytest.mark.parametrize("trees", [1, 50, 300])
def test_scores_equal_the_forests_own_to_the_last_bit(nab_matrix, trees):
    forest = IsolationForest(n_estimators=trees, random_state=3).fit(nab_matrix[:2016])
    flat = FlatForest(forest)
    rows = nab_matrix[2016 : 2016 + FLAT_MAX_ROWS]  # unseen rows, some beyond the range
    np.testing.assert_array_equal(flat.score_samples(rows), forest.score_samples(rows))
    one = nab_matrix[-1:]
    np.testing.assert_array_equal(flat.score_samples(one), forest.score_samples(one))


def test_values_on_a_split_and_far_outside_the_training_range_score_as_the_forest_does():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 2))
    forest = IsolationForest(n_estimators=20, random_state=0).fit(train)
    split = forest.estimators_[0].tree_.threshold[0]
    rows = np.array([[split, 0.0], [np.nextafter(split, 9), 0.0], [1e9, -1e9], [0.1, 0.2]])
    np.testing.assert_array_equal(
        FlatForest(forest).score_samples(rows), forest.score_samples(rows)
    )


def test_many_rows_are_scored_by_the_forest_itself(nab_matrix):
    forest = IsolationForest(n_estimators=10, random_state=0).fit(nab_matrix[:1000])
    np.testing.assert_array_equal(
        FlatForest(forest).score_samples(nab_matrix), forest.score_samples(nab_matrix)
    )


def test_rows_with_nan_and_forests_on_some_features_score_as_the_forest_does(nab_matrix):
    forest = IsolationForest(n_estimators=20, random_state=0).fit(nab_matrix[:1000])
    rows = nab_matrix[1000:1010].copy()
    rows[3, 1] = np.nan
    np.testing.assert_array_equal(
        FlatForest(forest).score_samples(rows), forest.score_samples(rows)
    )
    some = IsolationForest(n_estimators=20, max_features=1, random_state=0).fit(nab_matrix[:1000])
    rows = nab_matrix[1000:1010]
    np.testing.assert_array_equal(FlatForest(some).score_samples(rows), some.score_samples(rows))
