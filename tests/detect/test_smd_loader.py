"""SMD loader: layout, made-up clock, and errors that name the file and line."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.smd import (
    SMD_METRICS,
    SMD_START,
    list_machines,
    load_machine,
    read_causes,
    read_labels,
    read_matrix,
    to_long_frame,
)
from slopipe.errors import InputError


def write_machine(root: Path, name: str, train_rows: int, test_rows: int) -> None:
    """A tiny machine in SMD's layout: ones in train, twos in test, rows 1-2 anomalous."""
    for half, rows, value in (("train", train_rows, "1.0"), ("test", test_rows, "2.0")):
        (root / half).mkdir(parents=True, exist_ok=True)
        with gzip.open(root / half / f"{name}.txt.gz", "wt") as file:
            file.writelines(",".join([value] * 38) + "\n" for _ in range(rows))
    (root / "test_label").mkdir(exist_ok=True)
    labels = ["1" if row in (1, 2) else "0" for row in range(test_rows)]
    (root / "test_label" / f"{name}.txt").write_text("\n".join(labels) + "\n")
    (root / "interpretation_label").mkdir(exist_ok=True)
    (root / "interpretation_label" / f"{name}.txt").write_text("1-3:1,38\n")


def test_a_machine_loads_with_its_causes_named(tmp_path):
    write_machine(tmp_path, "machine-9-9", train_rows=5, test_rows=4)
    machine = load_machine(tmp_path, "machine-9-9")
    assert machine.train.shape == (5, 38) and machine.test.shape == (4, 38)
    assert machine.labels.tolist() == [0, 1, 1, 0]
    assert machine.causes[0].metrics == ("cpu_r", "udp_snd_buf_errs")
    assert (machine.causes[0].start, machine.causes[0].end) == (1, 3)
    assert list_machines(tmp_path) == ["machine-9-9"]


def test_the_long_frame_continues_the_clock_one_minute_per_row():
    frame = to_long_frame(np.arange(2 * 38, dtype=float).reshape(2, 38), first_step=10)
    assert len(frame) == 2 * 38
    assert frame["timestamp"].min() == SMD_START + pd.Timedelta(minutes=10)
    assert frame["timestamp"].max() == SMD_START + pd.Timedelta(minutes=11)
    assert set(frame["series"]) == set(SMD_METRICS)


def test_a_bad_label_line_is_named(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("0\n1\n2\n")
    with pytest.raises(InputError, match=r"labels.txt: line 3: expected 0 or 1"):
        read_labels(path)


@pytest.mark.parametrize(
    ("line", "problem"),
    [("5-2:1", "out of range"), ("1-3:0", "out of range"), ("1-3", "expected 'start-end")],
)
def test_a_bad_interpretation_line_is_named(tmp_path, line, problem):
    path = tmp_path / "causes.txt"
    path.write_text(f"0-1:4\n{line}\n")
    with pytest.raises(InputError, match=rf"causes.txt: line 2: .*{problem}"):
        read_causes(path, test_rows=10)


def test_a_matrix_with_a_short_row_names_the_line(tmp_path):
    path = tmp_path / "m.txt.gz"
    with gzip.open(path, "wt") as file:
        file.write(",".join(["0.5"] * 38) + "\n" + ",".join(["0.5"] * 37) + "\n")
    with pytest.raises(InputError, match=r"m.txt.gz: line 2: missing values"):
        read_matrix(path)


def test_labels_that_do_not_match_the_test_rows_are_an_error(tmp_path):
    write_machine(tmp_path, "machine-9-9", train_rows=5, test_rows=4)
    (tmp_path / "test_label" / "machine-9-9.txt").write_text("0\n0\n")
    with pytest.raises(InputError, match="2 labels for 4 test rows"):
        load_machine(tmp_path, "machine-9-9")


def test_a_directory_without_smd_layout_says_so(tmp_path):
    with pytest.raises(InputError, match="is this SMD's layout"):
        list_machines(tmp_path)
