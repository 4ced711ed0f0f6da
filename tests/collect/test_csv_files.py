"""CSV source: good files read exactly, bad ones stopped with file and line."""

from pathlib import Path

import pandas as pd
import pytest

from slopipe.collect.csv_files import read_csv_series, read_csv_source
from slopipe.errors import InputError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file_is_read_as_utc_samples_named_by_its_stem(tmp_path):
    path = write(
        tmp_path, "cpu.csv", "timestamp,value\n2024-01-01 00:00:00,1.5\n2024-01-01 00:05:00,2\n"
    )
    frame = read_csv_series(path)
    assert list(frame["series"]) == ["cpu", "cpu"]
    assert list(frame["value"]) == [1.5, 2.0]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2024-01-01 00:05:00", tz="UTC")


def test_nan_and_infinity_are_kept_for_counting_not_refused(tmp_path):
    path = write(
        tmp_path, "x.csv", "timestamp,value\n2024-01-01,nan\n2024-01-02,inf\n2024-01-03,3\n"
    )
    values = read_csv_series(path)["value"]
    assert values.isna().sum() == 1 and (values == float("inf")).sum() == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("time,value\n2024-01-01,1\n", ":1: header is `time,value`, expected `timestamp,value`"),
        ("timestamp,value\n", "header but no samples"),
        ("timestamp,value\n2024-01-01,1\n2024-01-02,abc\n", ":3: value 'abc' is not a number"),
        (
            "timestamp,value\n2024-01-01,1\nyesterday,2\n",
            ":3: timestamp 'yesterday' does not parse",
        ),
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as caught:
        read_csv_series(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_a_missing_path_says_so(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        read_csv_source(tmp_path / "nowhere")


def test_a_folder_is_read_recursively_one_series_per_file(tmp_path):
    (tmp_path / "a").mkdir()
    write(tmp_path / "a", "one.csv", "timestamp,value\n2024-01-01,1\n")
    write(tmp_path, "two.csv", "timestamp,value\n2024-01-01,2\n2024-01-02,3\n")
    frame = read_csv_source(tmp_path)
    assert frame.groupby("series").size().to_dict() == {"one": 1, "two": 2}
