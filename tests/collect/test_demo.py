"""The demo generator: realistic shapes, known incidents, repeatable."""

import numpy as np
import pandas as pd

from slopipe.collect import demo


def test_the_demo_is_repeatable():
    pd.testing.assert_frame_equal(demo.generate(days=3), demo.generate(days=3))


def test_counters_reset_twice_and_otherwise_never_fall():
    frame = demo.generate(days=4)
    for name in ("http_requests_total", "http_errors_total"):
        values = frame[frame["series"] == name]["value"].to_numpy()
        assert (np.diff(values) < 0).sum() == 2


def test_incidents_show_in_the_series_they_name():
    frame = demo.generate()
    for incident in demo.incidents():
        rows = frame[frame["series"] == incident.series].set_index("timestamp")["value"]
        inside = rows[(rows.index >= incident.start) & (rows.index < incident.end)]
        before = rows[
            (rows.index >= incident.start - incident.duration) & (rows.index < incident.start)
        ]
        if incident.series.endswith("_total"):
            inside, before = inside.diff().dropna(), before.diff().dropna()
            inside, before = inside[inside >= 0], before[before >= 0]
        assert inside.median() > before.quantile(0.99), incident


def test_some_scrapes_are_missing():
    frame = demo.generate(days=2)
    per_series = frame.groupby("series").size()
    assert (per_series < 2 * 24 * 60).all()
