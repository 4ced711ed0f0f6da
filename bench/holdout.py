"""The pipeline's registered model beside the streaming detector, on the same held-out span.

`slopipe run` registers `AnomalyModel` (one Isolation Forest over every series' features,
fitted once on the older 70 % of each series); `slopipe evaluate` measures the streaming
detector (`slopipe.detect.streaming`: a forest per series refit on a trailing window,
calibrated). A third column is a candidate for the pipeline: the streaming detector with its
forest fitted once per series on the trailing training rows and frozen, the calibration and
filters still following the series. This scores all three on the newest 30 % of each series
of a CSV folder with NAB's labels, with the measures a training run logs
(`slopipe.detect.labelled`), in one run.

    python bench/holdout.py [--data DIR] [--labels FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from sklearn.ensemble import IsolationForest

from slopipe.collect.csv_files import read_csv_source
from slopipe.detect.labelled import holdout_measures, intervals_from_nab
from slopipe.detect.model import AnomalyModel
from slopipe.detect.nab_files import read_window_labels
from slopipe.detect.streaming import StreamingConfig, postprocess, score_series, seasonal_features
from slopipe.prepare import build_features, prepare

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
HOLDOUT_FRACTION = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "realAWSCloudwatch")
    parser.add_argument("--labels", type=Path, default=SHARED / "labels" / "combined_windows.json")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    intervals = intervals_from_nab(read_window_labels(args.labels))
    features = build_features(prepare(read_csv_source(args.data))[0])
    train, held = split(features)
    results = {
        "pipeline model": pipeline_model(train, held),
        "streaming": streaming(held, features),
        "frozen forest": frozen_forest(held, features),
    }
    table = {
        name: holdout_measures(r["scores"], r["threshold"], intervals) | {"seconds": r["seconds"]}
        for name, r in results.items()
    }
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(pd.DataFrame(table).round(3).to_string())


def split(features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per series, the newest `HOLDOUT_FRACTION` of rows held out, as `slopipe run` does."""
    rank = features.groupby("series")["timestamp"].rank(method="first", pct=True)
    held = rank > 1.0 - HOLDOUT_FRACTION
    return features[~held], features[held]


def pipeline_model(train: pd.DataFrame, held: pd.DataFrame) -> dict:
    started = time.perf_counter()
    model = AnomalyModel().fit(train)
    scores = model.score_features(held)
    seconds = time.perf_counter() - started
    return {"scores": scores, "threshold": model.threshold, "seconds": seconds}


def streaming(held: pd.DataFrame, features: pd.DataFrame) -> dict:
    """Each whole series in time order (the detector is causal), its held-out rows kept."""
    return per_series(
        held,
        features,
        lambda stamps, values, n_train, config: score_series(stamps, values, config)[0],
    )


def frozen_forest(held: pd.DataFrame, features: pd.DataFrame) -> dict:
    """One forest per series on its last `train_rows` training rows, scoring the whole
    series; the likelihood, run filter, new-range and quiet stages as the streaming
    detector runs them."""

    def score(stamps, values, n_train, config):
        matrix = seasonal_features(stamps, values)
        forest = IsolationForest(n_estimators=config.n_trees, random_state=config.seed)
        forest.fit(matrix[max(0, n_train - config.train_rows) : n_train])
        return postprocess(stamps, values, -forest.score_samples(matrix), config)[0]

    return per_series(held, features, score)


def per_series(held: pd.DataFrame, features: pd.DataFrame, score) -> dict:
    """`score(stamps, values, training_rows, config)` over each whole series, timed; the
    held-out rows' scores kept."""
    started = time.perf_counter()
    config = StreamingConfig()
    parts = []
    for series, rows in features.groupby("series"):
        stamps = rows["timestamp"].dt.tz_convert(None).to_numpy("datetime64[ns]")
        held_stamps = held.loc[held["series"] == series, "timestamp"]
        n_train = int((~rows["timestamp"].isin(held_stamps)).sum())
        anomaly_score = score(stamps, rows["value"].to_numpy(float), n_train, config)
        parts.append(rows[["series", "timestamp"]].assign(anomaly_score=anomaly_score))
    scores = pd.concat(parts).merge(held[["series", "timestamp"]])
    seconds = time.perf_counter() - started
    return {"scores": scores, "threshold": config.flag_threshold, "seconds": seconds}


if __name__ == "__main__":
    main()
