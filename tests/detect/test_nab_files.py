"""NAB file loading: layouts understood, bad input named precisely."""

from __future__ import annotations

import pytest

from slopipe.detect import nab_files
from slopipe.detect.nab import Window
from slopipe.errors import InputError


def test_labels_lose_nab_fraction_suffix(tmp_path):
    path = tmp_path / "windows.json"
    path.write_text('{"c/f.csv": [["2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000"]]}')
    assert nab_files.read_window_labels(path) == {
        "c/f.csv": [("2014-01-01 00:05:00", "2014-01-01 00:10:00")]
    }


def test_labels_that_are_not_json_name_file_and_line(tmp_path):
    path = tmp_path / "windows.json"
    path.write_text("{\n  oops\n}")
    with pytest.raises(InputError, match=r"windows\.json:2: labels are not JSON"):
        nab_files.read_window_labels(path)


def test_missing_data_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        nab_files.data_files(tmp_path / "absent")


def test_csv_without_value_column_names_file_and_header_line(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("timestamp,other\n2014-01-01 00:00:00,1\n")
    with pytest.raises(InputError, match=r"f\.csv:1: missing column\(s\) value"):
        nab_files.read_series(path, "c/f.csv")


def test_unreadable_timestamp_names_its_line(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n")
    with pytest.raises(InputError, match=r"f\.csv:3: unreadable timestamp"):
        nab_files.read_series(path, "c/f.csv")


def test_windows_map_to_inclusive_row_indices(tmp_path):
    path = tmp_path / "f.csv"
    rows = "".join(f"2014-01-01 00:0{i}:00,{i}\n" for i in range(6))
    path.write_text("timestamp,value\n" + rows)
    series = nab_files.read_series(path, "c/f.csv")
    labels = {"c/f.csv": [("2014-01-01 00:02:00", "2014-01-01 00:04:00")]}
    assert nab_files.windows_for("c/f.csv", series.timestamps, labels, path) == (Window(2, 4),)
