"""`slopipe run --source prometheus` against a Prometheus backfilled with NAB series."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from tests.e2e.conftest import slopipe
from tests.e2e.expected import threshold_sli
from tests.e2e.test_bad_input import fingerprint
from tests.fixtures.prometheus import NAB_DATA, read_nab_csv

AWS = NAB_DATA / "realAWSCloudwatch"
#: Two of NAB's AWS series, each with its own SLO.
FILES = {"ec2_cpu_utilization_5f5533": 60, "ec2_cpu_utilization_825cc2": 97}
SELECTOR = 'nab_value{corpus="realAWSCloudwatch",file=~"ec2_cpu_utilization_(5f5533|825cc2)"}'
#: Every AWS series: what a run with this selector would add to the lake above.
WIDER = 'nab_value{corpus="realAWSCloudwatch"}'


def lake_name(file: str) -> str:
    return f'nab_value{{corpus="realAWSCloudwatch",file="{file}"}}'


def slo_document(file: str, threshold: float, series: str | None = None) -> dict:
    source = {"type": "lake", "spec": {"series": series or lake_name(file)}}
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": f"cpu-{file[-6:]}"},
        "spec": {
            "service": "ec2",
            "indicator": {"spec": {"thresholdMetric": {"metricSource": source}}},
            "timeWindow": [{"duration": "7d", "isRolling": True}],
            "budgetingMethod": "Timeslices",
            "objectives": [
                {"op": "lt", "value": threshold, "target": 0.99, "timeSliceWindow": "5m"}
            ],
        },
    }


def write_slos(path: Path, documents: list[dict]) -> Path:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def write_config(path: Path, url: str, selector: str) -> Path:
    prometheus = {"url": url, "selectors": [selector], "lookback_days": 20 * 365}
    path.write_text(yaml.safe_dump({"prometheus": prometheus}))
    return path


def csv_series(file: str) -> pd.Series:
    """The CSV file read with pandas; a repeated time keeps its first value, as the TSDB."""
    frame = pd.read_csv(AWS / f"{file}.csv")
    times = pd.to_datetime(frame["timestamp"], utc=True)
    values = pd.Series(frame["value"].to_numpy(float), index=times)
    return values.groupby(level=0).first()


def first_per_time(rows: list[tuple[int, str]]) -> list[tuple[int, float]]:
    """CSV rows (unix seconds, value text) as the TSDB keeps them: the first per time."""
    by_time: dict[int, float] = {}
    for stamp, text in rows:
        by_time.setdefault(stamp, float(text))
    return sorted(by_time.items())


@pytest.fixture(scope="module")
def prometheus_run(nab_prometheus, tmp_path_factory) -> tuple[dict, Path, Path]:
    folder = tmp_path_factory.mktemp("run-prometheus")
    config = write_config(folder / "config.yaml", nab_prometheus.url, SELECTOR)
    slos = write_slos(folder / "slos.yaml", [slo_document(f, t) for f, t in FILES.items()])
    home = folder / "home"
    args = ["--source", "prometheus", "--slos", str(slos), "--config", str(config)]
    result = slopipe("run", *args, "--json", home=home)
    assert result.returncode == 0, result.stderr
    return result.json(), home, folder


def test_the_lake_holds_exactly_the_csv_samples(prometheus_run):
    summary, home, _ = prometheus_run
    lake = DeltaTable(home / "lake").to_pandas()
    expected_rows = 0
    for file in FILES:
        rows = lake[lake["series"] == lake_name(file)].sort_values("timestamp")
        got = list(zip(rows["timestamp"].astype("int64") // 1_000_000, rows["value"], strict=True))
        expected = first_per_time(read_nab_csv(AWS / f"{file}.csv"))
        assert got == expected, file
        expected_rows += len(expected)
    assert len(lake) == expected_rows == 2 * 4032
    assert (summary["series"], summary["samples"], summary["lake_rows"]) == (2, 8064, 8064)
    assert (summary["new_samples"], summary["rejected"]) == (8064, 0)


def test_each_slo_has_the_sli_pandas_computes_from_the_csv(prometheus_run):
    summary, _, _ = prometheus_run
    reported = {s["name"]: s for s in summary["slos"]}
    assert len(reported) == summary["slos_evaluated"] == 2
    for file, threshold in FILES.items():
        status = reported[f"cpu-{file[-6:]}"]
        sli = threshold_sli(csv_series(file), "lt", threshold)
        assert status["sli"] == pytest.approx(sli, abs=1e-12), file
        assert status["state"] == ("ok" if sli >= 0.99 else "breached")


BAD = [
    ("slo not valid", {"target": 1.0}, WIDER, "slo cpu-5f5533: spec.objectives[0].target"),
    (
        "slo series nowhere",
        {"series": 'nab_value{file="gone"}'},
        WIDER,
        "slo cpu-5f5533: series 'nab_value{file=\"gone\"}' is not in the lake",
    ),
    ("selector rejected", {}, 'nab_value{file="x"', "unexpected end of input"),
    ("too few samples", {}, "odd_value", "about 5 samples, too few to train a model"),
]


@pytest.mark.parametrize(("case", "change", "selector", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    prometheus_run, nab_prometheus, tmp_path, case, change, selector, message
):
    _, home, _ = prometheus_run
    before = fingerprint(home)
    document = slo_document("ec2_cpu_utilization_5f5533", 60, change.get("series"))
    if "target" in change:
        document["spec"]["objectives"][0]["target"] = change["target"]
    slos = write_slos(tmp_path / "slos.yaml", [document])
    config = write_config(tmp_path / "config.yaml", nab_prometheus.url, selector)
    args = ["--source", "prometheus", "--slos", str(slos), "--config", str(config)]
    result = slopipe("run", *args, home=home)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in errors[0]
    assert fingerprint(home) == before
