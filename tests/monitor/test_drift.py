"""Population stability index: stable data is not drift, a new level is."""

import numpy as np
import pandas as pd
import pytest

from slopipe.monitor.drift import feature_drift, psi

RNG = np.random.default_rng(0)
REFERENCE = RNG.normal(size=3000)


@pytest.mark.parametrize(
    ("recent", "low", "high"),
    [
        (RNG.normal(size=200), 0.0, 0.25),  # same distribution
        (RNG.normal(size=30), 0.0, 1.0),  # a short sample: fewer bins, still no alarm
        (RNG.normal(3.0, 1.0, 200), 1.0, np.inf),  # a shift of three spreads
        (np.full(30, 20.0), 5.0, np.inf),  # clipped z-scores of a level shift
    ],
)
def test_psi_tells_a_shift_from_noise(recent, low, high):
    assert low <= psi(REFERENCE, recent) <= high


def test_feature_drift_names_the_worst_series_and_feature():
    reference = pd.DataFrame({"series": "a", "level_z": REFERENCE, "diff_z": REFERENCE})
    recent = pd.DataFrame({"series": "a", "level_z": np.full(50, 20.0), "diff_z": REFERENCE[:50]})
    worst, where = feature_drift(reference, recent, ["level_z", "diff_z"])
    assert worst > 5 and where == "a/level_z"
