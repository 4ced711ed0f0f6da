"""Benchmark of the main job: `slopipe run` on NAB's 17 real AWS CloudWatch series.

Prints, for each stage, its wall time and the samples it handled per second, then the peak
resident memory of the process. Not a test: run it with `make bench` and compare ratios, not
absolute times, across machines.

    python bench/pipeline.py [--data DIR] [--slos FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--slos", type=Path, default=REPO / "examples" / "nab-aws-slos.yaml")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from slopipe import pipeline
    from slopipe.config import load_settings

    marks: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home))
        started = time.perf_counter()
        summary = pipeline.run(
            settings,
            source=f"csv:{args.data}",
            slos_file=args.slos,
            on_stage=lambda stage: marks.append((stage, time.perf_counter())),
        )
        finished = time.perf_counter()
    rows = _stage_rows(marks, finished, summary.samples)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "samples": summary.samples,
        "series": summary.series,
        "total_seconds": finished - started,
        "samples_per_second": summary.samples / (finished - started),
        "peak_rss_mib": peak_mib,
        "stages": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)


def _stage_rows(marks: list[tuple[str, float]], finished: float, samples: int) -> list[dict]:
    rows = []
    for (stage, start), (_, end) in zip(marks, [*marks[1:], ("end", finished)], strict=True):
        seconds = end - start
        rows.append({"stage": stage, "seconds": seconds, "samples_per_second": samples / seconds})
    return rows


def _print(result: dict) -> None:
    print(f"{result['samples']:,} samples of {result['series']} series")
    print(f"{'stage':<10} {'seconds':>9} {'samples/s':>12}")
    for row in result["stages"]:
        print(f"{row['stage']:<10} {row['seconds']:>9.2f} {row['samples_per_second']:>12,.0f}")
    print(f"{'total':<10} {result['total_seconds']:>9.2f} {result['samples_per_second']:>12,.0f}")
    print(f"peak resident memory: {result['peak_rss_mib']:,.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
