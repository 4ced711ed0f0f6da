"""Reading series back after MERGE appends of many series (found by bench/monitor.py)."""

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.lake import Lake


def minutes(start: str, series: int) -> pd.DataFrame:
    times = pd.date_range(start, periods=5, freq="1s", tz="UTC")
    return pd.concat(
        [make_frame(times, np.ones(5), f"s{i}", "gauge") for i in range(series)],
        ignore_index=True,
    )


def test_one_series_reads_back_after_a_merge_of_a_thousand(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append(minutes("2024-01-01 00:00:00", 1000))
    lake.append(minutes("2024-01-01 00:00:03", 1000))  # a MERGE: 3 new rows per series
    since = pd.Timestamp("2023-12-31", tz="UTC")
    assert len(lake.read("s1", start=since)) == 8
    assert sorted(lake.read(["s1", "s2"])["series"].unique()) == ["s1", "s2"]
