"""Benchmark: slopipe's SLO evaluation beside Prometheus evaluating the exported rules.

    python bench/slo_bench.py [--slos 1000] [--days 30] [--workdir DIR]

Same data on both sides: per SLO a request and an error counter at a 1-minute step over
`--days` days (daily traffic cycle, errors at 0.02-0.5%, outages, counter resets). Each SLO
is a 30-day rolling Occurrences ratio SLO with the 30d catalogue (burn windows 5m, 30m, 1h,
2h, 6h, 1d, 3d).

- slopipe: raw counters in memory -> reset-aware increases (`prepare.counter_increases`) ->
  `evaluate()` at the newest sample, for every SLO: burn rates by window, budget, coverage,
  state, alerts, forecast.
- Prometheus: the counters backfilled into TSDB blocks (`promtool tsdb create-blocks-from
  openmetrics`, timed apart and not compared), then the exported window-ratio recording
  rules evaluated at the same instant by a Prometheus serving those blocks, two ways:
  offline by `promtool tsdb create-blocks-from rules`, and as one instant query per rule
  through the HTTP API. promtool picks its own evaluation instants (not the minute
  boundary), so the answers compared with slopipe's burn rates are the instant queries'.

Results print as JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import yaml

from slopipe.prepare.clean import counter_increases
from slopipe.slo.evaluate import evaluate
from slopipe.slo.openslo import parse_slo
from slopipe.slo.promrules import to_yaml

log = logging.getLogger("bench")
END = pd.Timestamp("2026-03-31 00:00", tz="UTC")
OBJECTIVES = (0.99, 0.995, 0.999)


def generate(
    slos: int, days: int, seed: int = 1
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Cumulative request and error counters, shape (slos, minutes)."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(end=END, periods=days * 1440 + 1, freq="1min")
    minute = np.arange(len(times))
    base = rng.uniform(50, 2000, (slos, 1))
    cycle = 1 + 0.6 * np.sin(2 * np.pi * (minute / 1440 + rng.uniform(0, 1, (slos, 1))))
    requests = np.round(base * cycle)
    errors = rng.binomial(requests.astype(np.int64), rng.uniform(0.0002, 0.005, (slos, 1)))
    errors = errors.astype(float)
    for i in range(0, slos, 7):  # an outage in every seventh SLO
        start = rng.integers(0, len(times) - 120)
        errors[i, start : start + 90] = np.round(requests[i, start : start + 90] * 0.2)
    total, bad = np.cumsum(requests, axis=1), np.cumsum(errors, axis=1)
    for i in range(0, slos, 5):  # and an exporter restart in every fifth
        cut = rng.integers(1, len(times))
        total[i, cut:] -= total[i, cut - 1]
        bad[i, cut:] -= bad[i, cut - 1]
    return times, total, bad


def slo_doc(i: int) -> dict:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": f"slo-{i:04d}"},
        "spec": {
            "service": f"svc-{i:04d}",
            "indicator": {
                "spec": {
                    "ratioMetric": {
                        "bad": source(f'errors_total{{slo="{i:04d}"}}'),
                        "total": source(f'requests_total{{slo="{i:04d}"}}'),
                    }
                }
            },
            "timeWindow": [{"duration": "30d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": OBJECTIVES[i % len(OBJECTIVES)]}],
        },
    }


def run_slopipe(times, total, bad) -> tuple[float, dict]:
    """Evaluate every SLO from raw counters; return seconds and burn rates by SLO."""
    slos = [parse_slo(slo_doc(i)) for i in range(total.shape[0])]
    began = time.perf_counter()
    rates = {}
    for i, slo in enumerate(slos):
        data = {
            slo.indicator.total: _increases(times, total[i]),
            slo.indicator.bad: _increases(times, bad[i]),
        }
        [status] = evaluate(slo, lambda s, a, b, data=data: data[s], times[-1])
        rates[slo.name] = status.burn_rates
    return time.perf_counter() - began, rates


def _increases(times: pd.DatetimeIndex, counter: np.ndarray) -> pd.DataFrame:
    increases, _ = counter_increases(counter.copy())
    return pd.DataFrame({"timestamp": times[1:], "value": increases[1:]})


def backfill(data: Path, work: Path, times, total, bad) -> int:
    """TSDB blocks of both counters of every SLO, written by promtool.

    promtool reads its whole input once per 2-hour block, so the input is cut into one
    file per 2-hour block, each converted while the next is written.
    """
    seconds = times.as_unit("s").asi8
    chunk = seconds // 7200
    names = [f'requests_total{{slo="{i:04d}"}} ' for i in range(total.shape[0])]
    names_bad = [f'errors_total{{slo="{i:04d}"}} ' for i in range(total.shape[0])]
    running, samples = None, 0
    for k, number in enumerate(np.unique(chunk)):
        cols = np.flatnonzero(chunk == number)
        path = work / f"chunk-{k % 2}.om"
        stamps = [f" {t}\n" for t in seconds[cols].tolist()]
        with path.open("w") as out:
            for metric, counters, prefixes in (
                ("requests", total, names),
                ("errors", bad, names_bad),
            ):
                out.write(f"# TYPE {metric} counter\n")
                for prefix, row in zip(
                    prefixes, counters[:, cols].astype(np.int64).tolist(), strict=True
                ):
                    out.write(
                        "".join([prefix + str(v) + t for v, t in zip(row, stamps, strict=True)])
                    )
            out.write("# EOF\n")
        samples += 2 * total.shape[0] * len(cols)
        if running is not None and running.wait() != 0:
            raise RuntimeError("promtool create-blocks-from openmetrics failed")
        running = subprocess.Popen(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--quiet",
                str(path),
                str(data),
            ]
        )
    if running is not None and running.wait() != 0:
        raise RuntimeError("promtool create-blocks-from openmetrics failed")
    return samples


def ratio_rules(slos: int) -> dict:
    """The exported window-ratio recording rules of every SLO (one group per SLO)."""
    exported = yaml.safe_load(to_yaml([parse_slo(slo_doc(i)) for i in range(slos)]))
    for group in exported["groups"]:
        group["rules"] = [
            r
            for r in group["rules"]
            if r.get("record", "").startswith("slopipe:slo_error_ratio:rate")
        ]
    return exported


@contextmanager
def prometheus(data: Path, folder: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = folder / "prometheus.yml"
    config.write_text("global:\n  evaluation_interval: 1m\n")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
    try:
        for _ in range(1200):
            try:
                if client.get("/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield client
    finally:
        process.terminate()
        process.wait(timeout=60)


def run_prometheus(work: Path, times, total, bad) -> tuple[dict, dict]:
    """Backfill, then have Prometheus evaluate the exported rules at the last sample, two
    ways: offline with `promtool tsdb create-blocks-from rules`, and as one instant query
    per rule through the HTTP API (whose answers are compared with slopipe's)."""
    timings = {}
    data = work / "data"
    done = work / "backfilled"
    began = time.perf_counter()
    if done.exists():  # an earlier run with the same --slos and --days left its blocks
        timings["samples"] = int(done.read_text())
    else:
        shutil.rmtree(data, ignore_errors=True)
        timings["samples"] = backfill(data, work, times, total, bad)
        done.write_text(str(timings["samples"]))
    timings["backfill_s"] = time.perf_counter() - began
    shutil.rmtree(work / "recorded", ignore_errors=True)
    exported = ratio_rules(total.shape[0])
    rules = work / "rules.yaml"
    rules.write_text(yaml.safe_dump(exported, sort_keys=False, width=1000))
    end = int(times[-1].timestamp())
    with prometheus(data, work) as client:
        _wait_for_compaction(data)
        began = time.perf_counter()
        subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--url={client.base_url}",
                f"--start={end - 60}",
                f"--end={end}",
                "--eval-interval=60s",
                f"--output-dir={work / 'recorded'}",
                "--quiet",
                str(rules),
            ],
            check=True,
            capture_output=True,
        )
        timings["rules_offline_s"] = time.perf_counter() - began
        began = time.perf_counter()
        recorded = _instant_rules(client, exported, end)
        timings["rules_instant_s"] = time.perf_counter() - began
    return timings, recorded


def _wait_for_compaction(data: Path, quiet_s: float = 20.0) -> None:
    """Prometheus merges backfilled 2h blocks when it starts; time nothing until the set of
    blocks has not changed for `quiet_s` seconds."""

    def blocks() -> set[str]:
        return {
            p.name for p in data.iterdir() if p.is_dir() and p.name not in ("wal", "chunks_head")
        }

    seen, since = blocks(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(1.0)
        now = blocks()
        if now != seen:
            seen, since = now, time.monotonic()
    log.info("prometheus: %d blocks after compaction", len(seen))


def _instant_rules(client: httpx.Client, exported: dict, end: int) -> dict:
    """Each rule's expression evaluated at `end`, by SLO and window."""
    found = {}
    for group in exported["groups"]:
        for rule in group["rules"]:
            body = client.get("/api/v1/query", params={"query": rule["expr"], "time": end}).json()
            [item] = body["data"]["result"]
            window = rule["record"].removeprefix("slopipe:slo_error_ratio:rate")
            found.setdefault(rule["labels"]["slo"], {})[window] = float(item["value"][1])
    return found


def compare(rates: dict, recorded: dict) -> dict:
    """Largest relative difference between slopipe's burn rates and Prometheus' ratios."""
    worst, compared, missing = 0.0, 0, 0
    for i, (name, by_window) in enumerate(sorted(rates.items())):
        budget = 1 - OBJECTIVES[i % len(OBJECTIVES)]
        for window, rate in by_window.items():
            other = recorded.get(name, {}).get(window)
            if other is None or rate is None:
                missing += 1
                continue
            other /= budget
            worst = max(worst, abs(rate - other) / max(abs(other), 1e-12))
            compared += 1
    return {"compared": compared, "missing": missing, "max_relative_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="Keep the TSDB blocks here and reuse them on the next run [a temporary folder]",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    for quiet in ("slopipe", "httpx"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    if not shutil.which("promtool"):
        sys.exit("promtool and prometheus are needed: apt-get install prometheus")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="slo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log.info("generating %d SLOs x %d days of 1-minute counters", args.slos, args.days)
    times, total, bad = generate(args.slos, args.days)
    log.info("slopipe: evaluating")
    slopipe_s, rates = run_slopipe(times, total, bad)
    log.info("slopipe: %.2f s; prometheus: backfilling and evaluating rules", slopipe_s)
    timings, recorded = run_prometheus(work, times, total, bad)
    result = {
        "slos": args.slos,
        "days": args.days,
        "samples": timings["samples"],
        "rules": 7 * args.slos,
        "slopipe_evaluate_s": round(slopipe_s, 3),
        "prometheus_rules_offline_s": round(timings["rules_offline_s"], 3),
        "prometheus_rules_instant_queries_s": round(timings["rules_instant_s"], 3),
        "prometheus_backfill_s_not_compared": round(timings["backfill_s"], 3),
        "speedup_vs_offline": round(timings["rules_offline_s"] / slopipe_s, 2),
        "speedup_vs_instant_queries": round(timings["rules_instant_s"] / slopipe_s, 2),
        "answers": compare(rates, recorded),
    }
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
