"""`slopipe run` on NAB's 17 real AWS CloudWatch series and the example SLO file."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from tests.conftest import NAB, REPO
from tests.e2e.conftest import slopipe
from tests.e2e.expected import threshold_sli

AWS = NAB / "data" / "realAWSCloudwatch"
SLO_FILE = REPO / "examples" / "nab-aws-slos.yaml"


def read_series(name: str) -> pd.Series:
    frame = pd.read_csv(AWS / f"{name}.csv")
    times = pd.to_datetime(frame["timestamp"], utc=True)
    return pd.Series(frame["value"].to_numpy(float), index=times).groupby(level=0).last()


@pytest.fixture(scope="module")
def nab_run(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("nab") / "home"
    result = slopipe("run", "--source", f"csv:{AWS}", "--slos", str(SLO_FILE), "--json", home=home)
    assert result.returncode == 0, result.stderr
    return result.json()


def test_all_seventeen_series_and_every_sample_are_read(nab_run):
    files = sorted(AWS.glob("*.csv"))
    rows = sum(len(pd.read_csv(f)) for f in files)
    unique = sum(pd.read_csv(f)["timestamp"].nunique() for f in files)
    assert (nab_run["series"], nab_run["samples"]) == (len(files), rows) == (17, 67_740)
    assert nab_run["lake_rows"] == unique  # a repeated timestamp is stored once
    assert nab_run["duplicates"] == rows - unique


def test_each_slo_of_the_file_is_met_or_breached_as_the_csv_says(nab_run):
    documents = list(yaml.safe_load_all(SLO_FILE.read_text()))
    reported = {s["name"]: s for s in nab_run["slos"]}
    assert len(reported) == len(documents) == nab_run["slos_evaluated"]
    breached = 0
    for doc in documents:
        spec = doc["spec"]
        series = spec["indicator"]["spec"]["thresholdMetric"]["metricSource"]["spec"]["series"]
        objective = spec["objectives"][0]
        sli = threshold_sli(read_series(series), objective["op"], objective["value"])
        status = reported[doc["metadata"]["name"]]
        assert status["sli"] == pytest.approx(sli, abs=1e-12), doc["metadata"]["name"]
        expected_state = "ok" if sli >= objective["target"] else "breached"
        assert status["state"] == expected_state
        breached += expected_state == "breached"
    assert nab_run["slos_breached"] == breached > 0


def test_a_model_is_trained_and_scores_the_held_out_span(nab_run):
    assert nab_run["model_version"] == "1"
    assert nab_run["scored"] > 0.25 * nab_run["lake_rows"]
    assert 0 < nab_run["anomalies"] < 0.05 * nab_run["scored"]
