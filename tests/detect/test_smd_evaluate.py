"""evaluate_directory end to end on one shared SMD machine (about 15 s)."""

import json

import pytest

from slopipe.detect.smd import DETECTORS, evaluate_directory
from tests.conftest import SMD

SMD_DIR = SMD
MACHINE = "machine-1-2"  # rows from the table in SOURCE.md
TEST_ROWS, TRAIN_ROWS, ANOMALOUS_ROWS, SEGMENTS = 23_694, 23_694, 542, 10
RATE_FIGURES = (
    "point_precision",
    "point_recall",
    "point_f1",
    "event_recall",
    "composite_f1",
    "hit_rate_100",
    "hit_rate_150",
    "point_adjusted_f1_beside",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SMD_DIR / "train").is_dir(), reason=f"{SMD_DIR} is not mounted"),
]


@pytest.fixture(scope="module")
def result() -> dict:
    seen = []
    result = evaluate_directory(SMD_DIR, machines=[MACHINE], progress=seen.append)
    assert seen == [MACHINE]
    return result


def test_every_test_row_is_scored_by_every_detector(result):
    machine = result["machines"][MACHINE]
    assert machine["rows"] == {
        "train": TRAIN_ROWS,
        "test": TEST_ROWS,
        "anomalous": ANOMALOUS_ROWS,
        "segments": SEGMENTS,
    }
    for detector in DETECTORS:
        assert machine["detectors"][detector]["scored_rows"] == TEST_ROWS


def test_every_figure_lies_in_the_unit_interval(result):
    for detector in DETECTORS:
        figures = result["machines"][MACHINE]["detectors"][detector]
        for name in RATE_FIGURES:
            if figures[name] is not None:  # the plain forest ranks nothing
                assert 0.0 <= figures[name] <= 1.0, (detector, name)


def test_the_result_is_json_and_the_mean_of_one_machine_is_that_machine(result):
    assert json.loads(json.dumps(result)) == result
    assert result["mean"]["slopipe"] == result["machines"][MACHINE]["detectors"]["slopipe"]


def test_the_evaluate_command_reports_one_machine_on_all_its_rows():
    import json
    import subprocess
    import sys

    from tests.conftest import SMD

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "slopipe.cli.main",
            "evaluate",
            "--data",
            str(SMD),
            "--format",
            "smd",
            "--machine",
            "machine-3-5",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert list(result["machines"]) == ["machine-3-5"]
    machine = result["machines"]["machine-3-5"]
    # SOURCE.md: machine-3-5 has 23,691 test rows, 426 of them anomalous, in 11 segments.
    assert machine["rows"] == {"train": 23_690, "test": 23_691, "anomalous": 426, "segments": 11}
    for detector in ("slopipe", "isolation_forest", "largest_zscore", "pca_reconstruction"):
        figures = machine["detectors"][detector]
        assert figures["scored_rows"] == 23_691
        assert 0.0 <= figures["composite_f1"] <= 1.0
