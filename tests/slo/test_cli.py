"""`slopipe slo ...` end to end on a real lake and store (SQLite and PostgreSQL)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from slopipe.cli.main import app
from slopipe.collect.samples import make_frame
from slopipe.lake import Lake

END = pd.Timestamp("2026-03-02", tz="UTC")
DATA = Path(__file__).parent / "data"


def slo_file(path: Path, target: float, name="api") -> Path:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    doc = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": {
            "service": "shop",
            "indicator": {
                "spec": {"ratioMetric": {"bad": source("errors"), "total": source("requests")}}
            },
            "timeWindow": [{"duration": "1d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": target}],
        },
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def lake_home(home: Path) -> Path:
    # A day and an hour of 1000 req/min; 2 errors/min, 500/min in the last 10 minutes.
    times = pd.date_range(end=END, periods=1500, freq="1min")
    errors = np.r_[np.full(1490, 2.0), np.full(10, 500.0)]
    Lake(home / "lake").append(
        pd.concat(
            [
                make_frame(times, np.cumsum(np.full(1500, 1000.0)), "requests", "counter"),
                make_frame(times, np.cumsum(errors), "errors", "counter"),
            ]
        )
    )
    return home


@pytest.fixture(params=["sqlite", "postgresql"])
def store_env(request, lake_home, monkeypatch):
    if request.param == "postgresql":
        monkeypatch.setenv("SLOPIPE_DB_URL", request.getfixturevalue("pg_url"))
    return lake_home


def run(*args: str):
    result = CliRunner().invoke(app, ["-q", *args])
    return result


def test_apply_list_history_status_and_export(store_env, tmp_path):
    first = run(
        "slo",
        "apply",
        str(slo_file(tmp_path / "a.yaml", 0.99)),
        "--author",
        "ana",
        "--reason",
        "new",
        "--json",
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == [{"name": "api", "version": 1, "changed": True}]
    second = run(
        "slo", "apply", str(slo_file(tmp_path / "b.yaml", 0.995)), "--reason", "tighter", "--json"
    )
    assert json.loads(second.stdout)[0]["version"] == 2

    history = json.loads(run("slo", "history", "api", "--json").stdout)
    assert [(h["version"], h["reason"], h["objectives"]) for h in history] == [
        (1, "new", [0.99]),
        (2, "tighter", [0.995]),
    ]
    assert history[0]["author"] == "ana" and history[1]["author"]  # the OS user

    listed = json.loads(run("slo", "list", "--json").stdout)
    assert [(s["name"], s["version"], s["window"]) for s in listed] == [("api", 2, "1d")]

    # Day ending at END: errors 1430*2 + 10*500 = 7860 of 1,440,000. The data predates
    # both versions (applied now, after END), so today's 99.5% applies: allowed 7200 =>
    # 1 - 7860/7200 = -0.091667, breached. Last 5m: 2500/5000 = 0.5 => burn 100.
    [status] = json.loads(run("slo", "status", "--json").stdout)
    assert (status["name"], status["version"], status["state"]) == ("api", 2, "breached")
    assert status["error_budget_remaining"] == pytest.approx(1 - 7860 / 7200)
    assert status["sli"] == pytest.approx(1 - 7860 / 1_440_000)
    assert status["burn_rates"]["5m"] == pytest.approx(100.0)
    assert status["coverage"] == pytest.approx(1.0)
    assert set(status) >= {"objective", "burn_rates", "alerts", "budget_exhausted_in_seconds"}

    # --at moves the window end back before the spike: 2 err/min => 0.002/0.005 => 0.6 left.
    [earlier] = json.loads(
        run("slo", "status", "--at", "2026-03-01T23:50:00+00:00", "--json").stdout
    )
    assert earlier["error_budget_remaining"] == pytest.approx(0.6)
    assert earlier["state"] == "ok" and earlier["alerts"] == []

    rules = run("slo", "export", "--format", "prometheus-rules")
    assert rules.exit_code == 0 and "slopipe:slo_error_ratio:rate5m" in rules.stdout
    openslo = list(yaml.safe_load_all(run("slo", "export", "--format", "openslo").stdout))
    assert [d["kind"] for d in openslo] == ["Service", "SLO"]


def test_validate_reports_one_line_and_exit_2(lake_home, tmp_path):
    ok = run("slo", "validate", str(slo_file(tmp_path / "ok.yaml", 0.99)))
    assert ok.exit_code == 0 and "1 SLO(s) valid" in ok.stdout
    bad = run("slo", "validate", str(slo_file(tmp_path / "bad.yaml", 1.0)))
    assert bad.exit_code == 2
    assert "slo api: spec.objectives[0].target: must be between 0 and 1 exclusive" in bad.stderr
    assert bad.stdout == ""


def test_validate_rejects_series_the_lake_does_not_hold(lake_home, tmp_path):
    path = slo_file(tmp_path / "x.yaml", 0.99)
    path.write_text(path.read_text().replace("series: requests", "series: reqs"))
    result = run("slo", "validate", str(path))
    assert result.exit_code == 2 and "series 'reqs' is not in the lake" in result.stderr


def test_export_writes_a_calendar_slo_without_its_period_budget_and_warns_in_one_line(
    lake_home, tmp_path
):
    month = slo_file(tmp_path / "month.yaml", 0.99, name="monthly")
    doc = yaml.safe_load(month.read_text())
    doc["spec"]["timeWindow"] = [{"duration": "1M", "isRolling": False}]
    month.write_text(yaml.safe_dump(doc))
    for path in (slo_file(tmp_path / "api.yaml", 0.99), month):
        assert run("slo", "apply", str(path), "--reason", "new").exit_code == 0

    both = run("slo", "export", "--format", "prometheus-rules")
    assert both.exit_code == 0, both.output
    groups = yaml.safe_load(both.stdout)["groups"]
    assert [g["name"] for g in groups] == ["slopipe-api", "slopipe-monthly"]
    records = {r.get("record") for r in groups[1]["rules"]}
    assert "slopipe:slo_error_ratio:rate1h" in records
    assert "slopipe:slo_error_budget_remaining:ratio" not in records
    assert "# slopipe-monthly: calendar month (UTC): burn rates and alerts" in both.stdout
    [warning] = both.stderr.strip().splitlines()
    assert warning.endswith(
        "WARNING slopipe.slo.promrules: slo monthly: calendar month (UTC): burn rates and "
        "alerts exported, but no period ratio or budget remaining (PromQL ranges are rolling: "
        "none starts at the month's first instant); read them from slopipe"
    )

    alone = run("slo", "export", "api", "--format", "prometheus-rules")
    assert alone.exit_code == 0, alone.output
    assert [g["name"] for g in yaml.safe_load(alone.stdout)["groups"]] == ["slopipe-api"]
    unknown = run("slo", "export", "nope", "--format", "prometheus-rules")
    assert unknown.exit_code == 2 and "no stored SLO named nope" in unknown.stderr
