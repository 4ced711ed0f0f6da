"""Isolation Forest on mixed, non-linear data, with a PCA view of what it isolates.

Normal points lie on two interleaved half-moons and a noisy ring in six dimensions (three
informative, three of noise); outliers are drawn uniformly over the bounding box. Logs the
detector's precision and recall against the known outliers, and a 2-D PCA picture.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_circles, make_moons  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import precision_score, recall_score, roc_auc_score  # noqa: E402


def mixed_data(samples: int, outlier_share: float, rng: np.random.Generator):
    inliers = int(samples * (1 - outlier_share))
    moons, _ = make_moons(inliers // 2, noise=0.08, random_state=int(rng.integers(1 << 31)))
    ring, _ = make_circles(inliers - inliers // 2, noise=0.05, factor=0.5, random_state=1)
    shape = np.vstack([moons, ring * 1.5 + [3.0, 0.0]])
    third = np.sin(shape[:, :1] * 2) + rng.normal(0, 0.05, (len(shape), 1))
    normal = np.hstack([shape, third, rng.normal(0, 0.3, (len(shape), 3))])
    low, high = normal.min(axis=0), normal.max(axis=0)
    outliers = rng.uniform(low, high, (samples - inliers, normal.shape[1]))
    data = np.vstack([normal, outliers])
    labels = np.r_[np.zeros(len(normal)), np.ones(len(outliers))]
    return data, labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=float, default=3000)
    parser.add_argument("--contamination", type=float, default=0.03)
    parser.add_argument("--seed", type=float, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(int(args.seed))
    data, labels = mixed_data(int(args.samples), args.contamination, rng)
    forest = IsolationForest(
        n_estimators=300, contamination=args.contamination, random_state=int(args.seed)
    )
    flags = forest.fit_predict(data) == -1
    scores = -forest.score_samples(data)
    with mlflow.start_run():
        mlflow.log_metrics(
            {
                "precision": precision_score(labels, flags),
                "recall": recall_score(labels, flags),
                "roc_auc": roc_auc_score(labels, scores),
            }
        )
        mlflow.log_figure(pca_view(data, labels, flags), "isolation_pca.png")


def pca_view(data: np.ndarray, labels: np.ndarray, flags: np.ndarray):
    view = PCA(n_components=2).fit_transform(data)
    figure, axis = plt.subplots(figsize=(7, 5))
    axis.scatter(view[:, 0], view[:, 1], s=4, c="#9ecae1", label="normal")
    axis.scatter(
        *view[labels == 1].T, s=14, facecolors="none", edgecolors="k", label="true outlier"
    )
    axis.scatter(*view[flags].T, s=5, c="#d62728", label="flagged")
    axis.set_xlabel("first principal component")
    axis.set_ylabel("second principal component")
    axis.set_title("Isolation Forest on mixed non-linear data (PCA view)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
