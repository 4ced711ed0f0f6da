"""`slopipe evaluate` end to end on a few shared NAB files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from slopipe.cli.main import app
from slopipe.detect import evaluate, nab_files
from slopipe.detect.streaming import StreamingConfig

SUBSET = (
    "artificialNoAnomaly/art_daily_no_noise.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
)


@pytest.fixture
def subset_dir(nab_dir, tmp_path):
    """Three NAB data files, linked (not copied) into a NAB-shaped directory."""
    data_dir = tmp_path / "data"
    for key in SUBSET:
        link = data_dir / key
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(nab_dir / "data" / key)
    return data_dir


def run_cli(*args: str):
    return CliRunner().invoke(app, ["evaluate", *map(str, args)])


@pytest.mark.slow
def test_evaluate_data_json_matches_scoring_the_written_outputs(nab_dir, subset_dir, tmp_path):
    labels_path = nab_dir / "labels" / "combined_windows.json"
    out_dir = tmp_path / "slopipe"
    # 25 trees instead of 300 keep this test fast; the flow is the same.
    result = run_cli(
        "--data", subset_dir, "--labels", labels_path, "--out", out_dir, "--trees", 25, "--json"
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout)
    labels = nab_files.read_window_labels(labels_path)
    written = nab_files.read_detector_outputs(out_dir, labels)
    rescored = evaluate.evaluate_files(
        written, fixed_threshold=StreamingConfig().flag_threshold
    ).as_dict()
    assert (reported["files"], reported["windows"]) == (3, 0 + 1 + 1)
    assert flatten(reported) == pytest.approx(flatten(rescored))
    assert sorted(p.name for p in out_dir.rglob("*.csv")) == sorted(
        f"slopipe_{key.rsplit('/', 1)[1]}" for key in SUBSET
    )


def flatten(result: dict, prefix: str = "") -> dict:
    """{"fixed": {"standard": 1}} -> {"fixed.standard": 1}, for one approximate comparison."""
    flat = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


def test_evaluate_scores_dir_prints_nab_scores_as_json(nab_dir):
    labels_path = nab_dir / "labels" / "combined_windows.json"
    result = run_cli(
        "--scores-dir", nab_dir / "results" / "numenta", "--labels", labels_path, "--json"
    )
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout)
    assert (reported["files"], reported["windows"], reported["fixed"]) == (28, 36, None)
    assert reported["standard"] == pytest.approx(72.3, abs=0.1)


def test_missing_data_directory_exits_2_naming_it(tmp_path, nab_dir):
    labels_path = nab_dir / "labels" / "combined_windows.json"
    result = run_cli("--data", tmp_path / "absent", "--labels", labels_path, "--json")
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'absent'}: not a directory" in result.stderr


def test_labels_that_are_not_json_exit_2_naming_the_file(tmp_path, nab_dir):
    labels_path = tmp_path / "labels.json"
    labels_path.write_text("not json")
    result = run_cli("--scores-dir", nab_dir / "results" / "null", "--labels", labels_path)
    assert result.exit_code == 2
    assert f"{labels_path}:1: labels are not JSON" in result.stderr
