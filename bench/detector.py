"""Benchmark of the streaming detector beside a plain scikit-learn IsolationForest.

Both run over the 28 shared NAB files in one run, on the same features (the value and its
daily seasonal difference, `slopipe.detect.streaming.seasonal_features`):

- slopipe: `score_series`, a 300-tree forest refit every 288 rows on the trailing 2,016,
  calibrated and filtered (the detector `slopipe evaluate --data` measures);
- plain: one `IsolationForest()` (scikit-learn defaults, 100 trees) fitted once on the
  whole file and scoring it, which looks ahead and is not a streaming detector: it is the
  cheapest thing the forest can do, a floor for the cost.

Prints samples per second for each and their ratio, and the peak resident memory.

    python bench/detector.py [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from sklearn.ensemble import IsolationForest

from slopipe.detect import nab_files
from slopipe.detect.streaming import StreamingConfig, score_series, seasonal_features

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = nab_files.data_files(args.data)
    series = [nab_files.read_series(p, p.relative_to(args.data).as_posix()) for p in paths]
    samples = sum(len(s.values) for s in series)
    slopipe_seconds = plain_seconds = 0.0
    for one in series:
        started = time.perf_counter()
        score_series(one.timestamps, one.values, StreamingConfig())
        slopipe_seconds += time.perf_counter() - started
        started = time.perf_counter()
        features = seasonal_features(one.timestamps, one.values)
        IsolationForest(random_state=0).fit(features).score_samples(features)
        plain_seconds += time.perf_counter() - started
    result = {
        "files": len(series),
        "samples": samples,
        "slopipe_samples_per_second": samples / slopipe_seconds,
        "plain_isolation_forest_samples_per_second": samples / plain_seconds,
        "slopipe_to_plain_ratio": plain_seconds / slopipe_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['files']} files, {samples:,} samples")
    print(f"slopipe streaming detector: {result['slopipe_samples_per_second']:>10,.0f} samples/s")
    plain = result["plain_isolation_forest_samples_per_second"]
    print(f"plain IsolationForest:      {plain:>10,.0f} samples/s")
    print(f"slopipe runs at {result['slopipe_to_plain_ratio']:.2f} of the plain forest's speed")
    print(f"peak resident memory: {result['peak_rss_mib']:,.0f} MiB")


if __name__ == "__main__":
    main()
