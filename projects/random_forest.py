"""A supervised baseline: a random forest trained on NAB's labelled anomaly windows.

Features are slopipe's own (`slopipe.prepare.features`); a row is labelled 1 inside an
anomaly window. Files are split, not rows: the forest is trained on two thirds of the NAB
files and evaluated on the rest, so no window is seen in both. Logs precision, recall and
ROC AUC on the held-out files and a feature-importance plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import precision_score, recall_score, roc_auc_score  # noqa: E402

from slopipe.collect.csv_files import read_csv_series  # noqa: E402
from slopipe.prepare import FEATURES, build_features, prepare  # noqa: E402


def labelled_features(nab: Path) -> pd.DataFrame:
    windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    parts = []
    for key, spans in sorted(windows.items()):
        prepared, _ = prepare(read_csv_series(nab / "data" / key))
        rows = build_features(prepared).assign(file=key, label=0)
        for start, end in spans:
            inside = rows["timestamp"].between(
                pd.Timestamp(start.split(".")[0], tz="UTC"),
                pd.Timestamp(end.split(".")[0], tz="UTC"),
            )
            rows.loc[inside, "label"] = 1
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nab", type=Path, default=Path("../shared/data/nab"))
    parser.add_argument("--trees", type=float, default=200)
    parser.add_argument("--seed", type=float, default=0)
    args = parser.parse_args()
    rows = labelled_features(args.nab)
    files = sorted(rows["file"].unique())
    test_files = set(files[::3])
    train, test = rows[~rows["file"].isin(test_files)], rows[rows["file"].isin(test_files)]
    forest = RandomForestClassifier(
        n_estimators=int(args.trees), class_weight="balanced", random_state=int(args.seed), n_jobs=1
    ).fit(train[FEATURES], train["label"])
    probability = forest.predict_proba(test[FEATURES])[:, 1]
    with mlflow.start_run():
        mlflow.log_param("files", len(files))
        mlflow.log_metrics(
            {
                "precision": precision_score(test["label"], probability >= 0.5, zero_division=0),
                "recall": recall_score(test["label"], probability >= 0.5),
                "roc_auc": roc_auc_score(test["label"], probability),
            }
        )
        mlflow.log_figure(importance_plot(forest), "feature_importance.png")


def importance_plot(forest: RandomForestClassifier):
    order = np.argsort(forest.feature_importances_)
    figure, axis = plt.subplots(figsize=(6, 3))
    axis.barh(np.array(FEATURES)[order], forest.feature_importances_[order], color="#1f77b4")
    axis.set_xlabel("mean decrease in impurity")
    axis.set_title("Random forest on NAB windows: feature importance")
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
