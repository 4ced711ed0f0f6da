"""Exported Prometheus rules: golden file, `promtool check rules`, and `promtool test rules`
showing each alert tier fire and resolve on a synthetic outage."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slopipe.slo import documents
from slopipe.slo.promrules import to_yaml

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "rules.yaml"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool missing (make system-deps)"
)
pytestmark = needs_promtool


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_generated_rules_match_the_golden_file():
    slos = [d for d, _ in documents.load_file(HERE / "data" / "rules.openslo.yaml")]
    text = to_yaml(slos)
    if os.environ.get("SLOPIPE_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_golden_rules_pass_promtool_check():
    result = promtool("check", "rules", str(GOLDEN))
    assert result.returncode == 0, result.stdout + result.stderr
    # availability: 7 window ratios (5m 30m 1h 2h 6h 1d 3d) + 4 period rules + 4 alerts;
    # latency: the same 7 + 4 + 3 alerts (page-slow disabled); cpu and up (threshold):
    # 1 error:bool + 7 window shares + period + budget + 4 alerts each => 15 + 14 + 14 + 14.
    assert "SUCCESS: 57 rules found" in result.stdout


def test_the_period_budget_is_a_ratio_of_sums():
    rules = yaml.safe_load(GOLDEN.read_text())["groups"][0]["rules"]
    [period] = [r for r in rules if r.get("record") == "slopipe:slo_error_ratio:period"]
    assert period["expr"].startswith("sum_over_time(slopipe:slo_errors:rate5m{")
    assert "/\nsum_over_time(slopipe:slo_requests:rate5m{" in period["expr"]
    groups = yaml.safe_load(GOLDEN.read_text())["groups"]
    period = "slopipe:slo_error_ratio:period"
    periods = [r["expr"] for g in groups for r in g["rules"] if r.get("record") == period]
    assert len(periods) == 4 and not any("count_over_time" in e for e in periods)


# A 30-day 99.9% SLO: thresholds 14.4, 6, 3, 1 times 0.001. 100 req/min throughout; in
# the minutes ending 601m to 720m half of them fail (50 errors/min, 6000 in all). Worked
# out per evaluation time:
#   630m  5m 0.5, 1h 1500/6000, 30m 1500/3000, 6h 1500/36000, 2h 1500/12000,
#         1d = 3d = 1500/63000 (all the data): every tier fires.
#   740m  5m clean: page-fast resolved; 30m holds 500 errors: the rest fire.
#   800m  30m clean: page-slow resolved; 2h (680-800m) holds 2000 errors.
#   900m  2h clean: ticket-fast resolved; 6h (540-900m) holds all 6000.
#   1100m 6h (740-1100m) clean: all resolved.
ALL = ["page-fast", "page-slow", "ticket-fast", "ticket-slow"]
FIRING = {
    "590m": [],
    "630m": ALL,
    "740m": ALL[1:],
    "800m": ALL[2:],
    "900m": ALL[3:],
    "1100m": [],
}
SEVERITY = {
    "page-fast": "page",
    "page-slow": "page",
    "ticket-fast": "ticket",
    "ticket-slow": "ticket",
}


def test_each_tier_fires_and_resolves_on_a_synthetic_outage(tmp_path):
    [slo] = [d for d, _ in documents.load_file(HERE / "data" / "rules.openslo.yaml")][:1]
    (tmp_path / "rules.yaml").write_text(to_yaml([slo]))
    rules = yaml.safe_load((tmp_path / "rules.yaml").read_text())["groups"][0]["rules"]
    summaries = {r["labels"]["tier"]: r["annotations"]["summary"] for r in rules if "alert" in r}
    labels = {"slo": "checkout-availability", "objective": "0", "service": "checkout"}
    alert_tests = [
        {
            "eval_time": at,
            "alertname": "SLOErrorBudgetBurn",
            "exp_alerts": [
                {
                    "exp_labels": {**labels, "severity": SEVERITY[t], "tier": t},
                    "exp_annotations": {"summary": summaries[t]},
                }
                for t in tiers
            ],
        }
        for at, tiers in FIRING.items()
    ]
    outage = [
        ("http_requests_total", "0+100x1320"),
        ("http_errors_total", "0+0x600 50+50x119 6000+0x600"),
    ]
    ratio = "slopipe:slo_error_ratio:rate1h"
    expr_test = {
        "expr": ratio,
        "eval_time": "630m",
        "exp_samples": [{"labels": ratio + _braces(labels), "value": 1500 / 6000}],
    }
    result = run_promtool_tests(tmp_path, outage, alert_tests, [expr_test])
    assert "SUCCESS" in result.stdout


def test_a_missing_error_series_still_gives_a_ratio(tmp_path):
    # No error counter at all: `or vector(0)` keeps the ratio at 0 instead of no value.
    [slo] = [d for d, _ in documents.load_file(HERE / "data" / "rules.openslo.yaml")][:1]
    (tmp_path / "rules.yaml").write_text(to_yaml([slo]))
    labels = {"slo": "checkout-availability", "objective": "0", "service": "checkout"}
    ratio = "slopipe:slo_error_ratio:rate1h"
    expr_test = {
        "expr": ratio,
        "eval_time": "100m",
        "exp_samples": [{"labels": ratio + _braces(labels), "value": 0}],
    }
    run_promtool_tests(tmp_path, [("http_requests_total", "0+100x120")], (), [expr_test])


def run_promtool_tests(
    tmp_path: Path, input_series, alert_tests=(), expr_tests=()
) -> subprocess.CompletedProcess:
    """`promtool test rules` on tmp_path/rules.yaml, at 1-minute steps, over `input_series`
    ((series, values) pairs); fails the test unless promtool passes."""
    test = {"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in input_series]}
    if alert_tests:
        test["alert_rule_test"] = list(alert_tests)
    if expr_tests:
        test["promql_expr_test"] = list(expr_tests)
    suite = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_outage_suite(tmp_path: Path, slo, input_series, ratio_1h: float) -> dict:
    """Export `slo`'s rules and run promtool's unit test of an outage on `input_series`: the
    tiers of `FIRING` fire at each instant (those the SLO has), and the 1h error ratio at
    630m is `ratio_1h`. Returns the alerting rules by tier."""
    (tmp_path / "rules.yaml").write_text(to_yaml([slo]))
    rules = yaml.safe_load((tmp_path / "rules.yaml").read_text())["groups"][0]["rules"]
    alerts = {r["labels"]["tier"]: r for r in rules if "alert" in r}
    labels = {"slo": slo.name, "objective": "0", "service": slo.service}
    alert_tests = [
        {
            "eval_time": at,
            "alertname": "SLOErrorBudgetBurn",
            "exp_alerts": [
                {"exp_labels": alerts[t]["labels"], "exp_annotations": alerts[t]["annotations"]}
                for t in tiers
                if t in alerts
            ],
        }
        for at, tiers in FIRING.items()
    ]
    ratio = "slopipe:slo_error_ratio:rate1h"
    expr_test = {
        "expr": ratio,
        "eval_time": "630m",
        "exp_samples": [{"labels": ratio + _braces(labels), "value": ratio_1h}],
    }
    run_promtool_tests(tmp_path, input_series, alert_tests, [expr_test])
    return alerts


def _braces(labels: dict) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
