"""Reference detectors that slopipe's service model must beat, on wide row matrices.

Each baseline is fitted on a training matrix (rows are steps, columns are series) and scores a
test matrix; it returns a `BaselineScores`: anomaly scores for both halves (higher means more
anomalous) and, where the method gives one, a per-row ranking of column indices, most
responsible first. Thresholds are not chosen here: the caller applies one rule to all of them.
Pure: no I/O.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

MIN_SCALE = 1e-3  # spread given to a column that never moved in training (its own units)
PCA_VARIANCE_RATIO = 0.9  # principal components kept: enough for this share of variance


class BaselineScores(NamedTuple):
    train_scores: np.ndarray
    test_scores: np.ndarray
    test_ranking: np.ndarray | None  # column indices per test row, most responsible first


def plain_isolation_forest(train: np.ndarray, test: np.ndarray, seed: int) -> BaselineScores:
    """scikit-learn's IsolationForest with its default settings on the raw rows; it explains
    nothing."""
    forest = IsolationForest(random_state=seed, n_jobs=1).fit(train)
    return BaselineScores(-forest.score_samples(train), -forest.score_samples(test), None)


def largest_zscore(train: np.ndarray, test: np.ndarray) -> BaselineScores:
    """The largest absolute z-score of the row against training mean and spread."""
    mean, spread = _standardiser(train)
    train_z = np.abs((train - mean) / spread)
    test_z = np.abs((test - mean) / spread)
    return BaselineScores(train_z.max(axis=1), test_z.max(axis=1), _ranking(test_z))


def pca_reconstruction_error(train: np.ndarray, test: np.ndarray) -> BaselineScores:
    """Squared error of rebuilding the standardised row from its main principal components."""
    mean, spread = _standardiser(train)
    train_std, test_std = (train - mean) / spread, (test - mean) / spread
    pca = PCA(n_components=PCA_VARIANCE_RATIO, svd_solver="full").fit(train_std)
    train_error = (train_std - pca.inverse_transform(pca.transform(train_std))) ** 2
    test_error = (test_std - pca.inverse_transform(pca.transform(test_std))) ** 2
    return BaselineScores(train_error.sum(axis=1), test_error.sum(axis=1), _ranking(test_error))


def random_scores(train: np.ndarray, test: np.ndarray, seed: int) -> BaselineScores:
    """Uniform noise as scores and a random ranking: the floor any detector must clear."""
    rng = np.random.default_rng(seed)
    ranking = rng.permuted(np.tile(np.arange(test.shape[1]), (len(test), 1)), axis=1)
    return BaselineScores(rng.random(len(train)), rng.random(len(test)), ranking)


def _standardiser(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and spreads; a column constant in training gets MIN_SCALE."""
    return train.mean(axis=0), np.maximum(train.std(axis=0), MIN_SCALE)


def _ranking(per_column: np.ndarray) -> np.ndarray:
    return np.argsort(-per_column, axis=1, kind="stable")
