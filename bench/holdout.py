"""The pipeline's registered model beside the streaming detector, on the same held-out span.

`slopipe run` registers `AnomalyModel` (`slopipe.detect.model`: a forest per series fitted
once on its trailing training rows and frozen, the streaming detector's calibration and
filters following the series) and its validation gate scores the held-out span as
`held_out_scores` does; `slopipe evaluate` measures the streaming detector
(`slopipe.detect.streaming`: a forest per series refit on a trailing window, calibrated).
The plain forest is the model `slopipe run` registered before, kept as a baseline: one
Isolation Forest over every series' scale-free features, flagging above the 99.7th
percentile of its training scores. This scores all three on the newest 30 % of each series
of a CSV folder with NAB's labels, with the measures a training run logs
(`slopipe.detect.labelled`), in one run.

    python bench/holdout.py [--data DIR] [--labels FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from slopipe.collect.csv_files import read_csv_source
from slopipe.detect.labelled import holdout_measures, intervals_from_nab
from slopipe.detect.model import AnomalyModel
from slopipe.detect.nab_files import read_window_labels
from slopipe.detect.streaming import StreamingConfig, score_series
from slopipe.prepare import FEATURES, build_features, prepare
from slopipe.training import held_out_scores

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
HOLDOUT_FRACTION = 0.3
PLAIN_CONTAMINATION = 0.003  # the share of training rows the plain forest's threshold flags


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
        "plain forest": plain_forest(train, held),
        "pipeline model": pipeline_model(train, held, features),
        "streaming": streaming(held, features),
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


def plain_forest(train: pd.DataFrame, held: pd.DataFrame) -> dict:
    """The baseline: one forest of 200 trees over every series' scale-free features."""
    started = time.perf_counter()
    forest = IsolationForest(n_estimators=200, random_state=0, n_jobs=1)
    forest.fit(train[FEATURES].to_numpy(float))
    train_scores = -forest.score_samples(train[FEATURES].to_numpy(float))
    threshold = float(np.quantile(train_scores, 1.0 - PLAIN_CONTAMINATION))
    scores = held[["series", "timestamp"]].assign(
        anomaly_score=-forest.score_samples(held[FEATURES].to_numpy(float))
    )
    seconds = time.perf_counter() - started
    return {"scores": scores, "threshold": threshold, "seconds": seconds}


def pipeline_model(train: pd.DataFrame, held: pd.DataFrame, features: pd.DataFrame) -> dict:
    """Fitted and scored as `slopipe run` does: the held-out rows with their history."""
    started = time.perf_counter()
    model = AnomalyModel().fit(train)
    split = held.groupby("series")["timestamp"].min().to_dict()
    scores = held_out_scores(model, features, split)
    seconds = time.perf_counter() - started
    return {"scores": scores, "threshold": model.config.flag_threshold, "seconds": seconds}


def streaming(held: pd.DataFrame, features: pd.DataFrame) -> dict:
    """Each whole series in time order (the detector is causal), its held-out rows kept."""
    started = time.perf_counter()
    config = StreamingConfig()
    parts = []
    for _, rows in features.groupby("series"):
        stamps = rows["timestamp"].dt.tz_convert(None).to_numpy("datetime64[ns]")
        anomaly_score, _ = score_series(stamps, rows["value"].to_numpy(float), config)
        parts.append(rows[["series", "timestamp"]].assign(anomaly_score=anomaly_score))
    scores = pd.concat(parts).merge(held[["series", "timestamp"]])
    seconds = time.perf_counter() - started
    return {"scores": scores, "threshold": config.flag_threshold, "seconds": seconds}


if __name__ == "__main__":
    main()
