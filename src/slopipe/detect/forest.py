"""A fitted scikit-learn `IsolationForest`, flattened into arrays to score a few rows fast.

`IsolationForest.score_samples` walks its trees one by one from Python: about 0.2 ms a tree
whatever the number of rows, so 300 trees cost some 60 ms even for the one new row of a
monitor cycle. `FlatForest` packs every tree's nodes into padded arrays once, then walks
all trees for all rows together in numpy. It gives the very same scores (the same float32
comparison of inputs, the same path lengths added tree by tree in the same order); for many
rows the forest's own loop is faster, and `score_samples` hands such batches to it, as it
does rows that are not all finite and forests fitted on a subset of the features.

The path length of a row in a tree is the depth of the leaf it reaches plus the average
path length of an isolation tree over the leaf's training samples (Liu, Ting and Zhou,
"Isolation Forest", ICDM 2008); scikit-learn keeps both per node.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

#: Above this many rows, scikit-learn's own per-tree loop is the faster one.
FLAT_MAX_ROWS = 512


class FlatForest:
    def __init__(self, forest: IsolationForest):
        trees = [estimator.tree_ for estimator in forest.estimators_]
        width = max(tree.node_count for tree in trees)
        shape = (len(trees), width)
        self.forest = forest
        self.feature = np.zeros(shape, dtype=np.intp)
        self.threshold = np.zeros(shape)
        self.left = np.tile(np.arange(width), (len(trees), 1))  # a leaf points at itself
        self.right = self.left.copy()
        self.path_length = np.zeros(shape)
        for i, tree in enumerate(trees):
            n = tree.node_count
            inner = tree.children_left >= 0
            self.feature[i, :n] = np.where(inner, tree.feature, 0)
            self.threshold[i, :n] = tree.threshold
            self.left[i, :n] = np.where(inner, tree.children_left, np.arange(n))
            self.right[i, :n] = np.where(inner, tree.children_right, np.arange(n))
            # as scikit-learn sums them per tree: depth (in nodes) + average path - 1
            depth_nodes = forest._decision_path_lengths[i]
            self.path_length[i, :n] = depth_nodes + forest._average_path_length_per_tree[i] - 1.0
        self.depth = max(tree.max_depth for tree in trees)
        # The walk reads the columns as given: right only when every tree saw every feature
        # in order, as scikit-learn does when max_features keeps them all.
        self.exact = forest._max_features == forest.n_features_in_
        self.denominator = len(trees) * _average_path_length(forest.max_samples_)

    def score_samples(self, matrix: np.ndarray) -> np.ndarray:
        """`IsolationForest.score_samples(matrix)`, to the last bit."""
        values = np.asarray(matrix, dtype=np.float32).astype(float)
        if len(values) > FLAT_MAX_ROWS or not self.exact or not np.isfinite(values).all():
            return self.forest.score_samples(matrix)  # NaN has a side of its own there
        rows = np.arange(len(values))[:, None]
        trees = np.arange(self.feature.shape[0])[None, :]
        node = np.zeros((len(values), self.feature.shape[0]), dtype=np.intp)
        for _ in range(self.depth):
            go_left = values[rows, self.feature[trees, node]] <= self.threshold[trees, node]
            node = np.where(go_left, self.left[trees, node], self.right[trees, node])
        # added tree after tree from 0, as the forest adds them
        depths = np.cumsum(self.path_length[trees, node], axis=1)[:, -1]
        return -(2.0 ** -(depths / self.denominator))


def _average_path_length(samples: int) -> float:
    """c(n): the average path length of an unsuccessful search in a binary search tree of
    n samples, 2 H(n - 1) - 2 (n - 1) / n, with H(i) ~ ln(i) + Euler's constant."""
    if samples <= 1:
        return 0.0
    if samples == 2:
        return 1.0
    return 2.0 * (np.log(samples - 1.0) + np.euler_gamma) - 2.0 * (samples - 1.0) / samples
