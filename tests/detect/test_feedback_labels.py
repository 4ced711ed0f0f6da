"""People's verdicts as labels: the window rule on worked cases, and `slopipe evaluate
--feedback` end to end on shared NAB files with a real SLO store."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from slopipe.cli.main import app
from slopipe.config import load_settings
from slopipe.detect.feedback_labels import episodes, feedback_windows
from slopipe.detect.nab import Window
from slopipe.slo.store import SloStore

HOUR = np.timedelta64(1, "h")
STEP = np.timedelta64(5, "m")


def rows(n: int) -> np.ndarray:
    return np.datetime64("2026-01-01T00:00") + STEP * np.arange(n)


def at(*row_numbers: int) -> np.ndarray:
    return rows(max(row_numbers, default=0) + 1)[list(row_numbers)]


@pytest.mark.parametrize(
    ("n_rows", "confirmed", "expected"),
    [
        # 10 % of 100 rows for one episode: 10 rows centred on rows 40-42.
        (100, at(40, 41, 42), (Window(36, 45),)),
        # Two episodes share the 10 %: 5 rows each.
        (100, at(10, 80), (Window(8, 12), Window(78, 82))),
        # Near the start the window is pushed inside the file.
        (100, at(1), (Window(0, 9),)),
        # An episode longer than its share keeps its own span.
        (100, at(*range(20, 40)), (Window(20, 39),)),
        # 1,000 rows, two episodes 70 minutes apart: 50 rows each, overlapping, merged.
        (1000, at(400, 414), (Window(375, 438),)),
        (100, at(), ()),
    ],
)
def test_windows_take_nabs_share_of_rows_centred_on_each_episode(n_rows, confirmed, expected):
    assert feedback_windows(rows(n_rows), confirmed, HOUR) == expected


def test_a_confirmed_time_between_two_rows_falls_on_the_next_row():
    between = rows(100)[40] + np.timedelta64(2, "m")
    # The episode is row 41 alone; 10 rows centred on it start at (41 + 41 + 1 - 10) // 2.
    assert feedback_windows(rows(100), np.array([between]), HOUR) == (Window(36, 45),)


def test_a_gap_of_exactly_the_episode_gap_keeps_one_episode():
    assert episodes(at(0, 12, 25), HOUR) == [(0, 1), (2, 2)]  # 60 min, then 65 min


# -- end to end ---------------------------------------------------------------------------

EC2 = "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"
QUIET = "artificialNoAnomaly/art_daily_no_noise.csv"
JUMPS = "artificialWithAnomaly/art_daily_jumpsup.csv"
# Rows of EC2 start at 2014-04-10 00:04 every 5 minutes, two of them missed (after rows 37
# and 1114): 21:24 on the 15th is row 5 * 288 + 256 - 2 = 1694. Three confirmed rows, 403
# rows (10 % of 4,032) centred on them: rows 1494-1896, 04:44 on the 15th to 14:14 on the 16th.
CONFIRMED = ["2014-04-15 21:24:00", "2014-04-15 21:29:00", "2014-04-15 21:34:00"]
EC2_WINDOW = ["2014-04-15 04:44:00", "2014-04-16 14:14:00"]


@pytest.fixture
def data_dir(nab_dir, tmp_path):
    folder = tmp_path / "data"
    for key in (EC2, QUIET, JUMPS):
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).symlink_to(nab_dir / "data" / key)
    return folder


@pytest.fixture
def verdicts(home):
    """A real SLO store in the test's home: EC2 confirmed, one flag on QUIET rejected."""
    home.mkdir()
    store = SloStore(load_settings().slo_db_url)
    stamps = [datetime.fromisoformat(t + "+00:00") for t in CONFIRMED]
    store.record_feedback("ec2_cpu_utilization_825cc2", stamps, "true_positive", "", "ann")
    noon = datetime.fromisoformat("2014-04-05 12:00:00+00:00")
    store.record_feedback("art_daily_no_noise", noon, "false_positive", "deploy", "ann")
    return store


def evaluate(*args) -> dict:
    result = CliRunner().invoke(app, ["evaluate", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_row_arithmetic_of_this_test_matches_the_file(nab_dir):
    stamps = pd.read_csv(nab_dir / "data" / EC2)["timestamp"]
    assert [stamps[1694], stamps[1494], stamps[1896]] == [CONFIRMED[0], *EC2_WINDOW]


@pytest.mark.slow
def test_feedback_alone_scores_only_files_with_verdicts(data_dir, verdicts, tmp_path):
    out = tmp_path / "slopipe"
    reported = evaluate("--data", data_dir, "--feedback", "--trees", 25, "--out", out)
    assert (reported["files"], reported["windows"]) == (2, 1)
    # The same outputs scored against the window written out by hand give the same scores.
    hand = tmp_path / "hand.json"
    hand.write_text(json.dumps({EC2: [EC2_WINDOW], QUIET: []}))
    assert scores(evaluate("--scores-dir", out, "--labels", hand)) == scores(reported)


@pytest.mark.slow
def test_feedback_windows_join_the_labels_files(nab_dir, data_dir, verdicts, tmp_path):
    labels = nab_dir / "labels" / "combined_windows.json"
    out = tmp_path / "slopipe"
    reported = evaluate(
        "--data", data_dir, "--labels", labels, "--feedback", "--trees", 25, "--out", out
    )
    # NAB's EC2 window (07:24 on the 15th to 11:54 on the 16th) lies inside the feedback
    # window, so EC2 keeps one window; JUMPS has NAB's one and QUIET none.
    assert (reported["files"], reported["windows"]) == (3, 2)
    nab = json.loads(labels.read_text())
    hand = tmp_path / "hand.json"
    hand.write_text(json.dumps({EC2: [EC2_WINDOW], QUIET: [], JUMPS: nab[JUMPS]}))
    assert scores(evaluate("--scores-dir", out, "--labels", hand)) == scores(reported)


def test_feedback_with_published_outputs_is_refused(home, tmp_path):
    result = CliRunner().invoke(app, ["evaluate", "--scores-dir", tmp_path, "--feedback"])
    assert result.exit_code == 2
    assert "--feedback labels the files of --data DIR" in result.output


def test_feedback_without_a_store_names_the_home(data_dir, home):
    result = CliRunner().invoke(app, ["evaluate", "--data", data_dir, "--feedback"])
    assert result.exit_code == 2
    assert f"no SLO store in {home}" in result.output


def test_feedback_on_no_file_of_the_folder_says_so(data_dir, home):
    home.mkdir()
    result = CliRunner().invoke(app, ["evaluate", "--data", data_dir, "--feedback"])
    assert result.exit_code == 2
    assert "no file's series has feedback" in result.output


def scores(result: dict) -> dict:
    profiles = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
    return {p: round(result[p], 9) for p in profiles}
