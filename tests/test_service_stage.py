"""The services stage alone: which services it models, which it skips and why, watermarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from slopipe.config import Settings
from slopipe.service_stage import model_services
from slopipe.slo.store import SloStore


def prepared(spans: dict[str, tuple[str, int]], seed: int = 5) -> pd.DataFrame:
    """One-minute rows of Gaussian noise per series: its start and its number of steps."""
    rng = np.random.default_rng(seed)
    parts = []
    for series, (start, steps) in spans.items():
        stamps = pd.date_range(start, periods=steps, freq="1min", tz="UTC")
        parts.append(
            pd.DataFrame({"timestamp": stamps, "series": series, "value": rng.normal(0, 1, steps)})
        )
    return pd.concat(parts, ignore_index=True)


def test_each_service_is_modelled_or_skipped_with_its_reason(tmp_path):
    store = SloStore(f"sqlite:///{tmp_path / 'slo.db'}")
    frame = prepared(
        {
            "cpu": ("2024-01-01", 1000),
            "db": ("2024-01-01", 1000),
            "alone": ("2024-01-01", 1000),
            "early": ("2024-01-01", 200),
            "late": ("2024-02-01", 200),
            "short_a": ("2024-01-01", 60),
            "short_b": ("2024-01-01", 60),
        }
    )
    labels = {
        "cpu": {"service": "shop"},
        "db": {"service": "shop"},
        "alone": {"service": "solo"},
        "early": {"service": "apart"},
        "late": {"service": "apart"},
        "short_a": {"service": "brief"},
        "short_b": {"service": "brief"},
    }
    results = model_services(Settings(home=tmp_path), store, frame, labels, {"shop": ["s1"]}, "7")
    by_name = {r.name: r for r in results}
    assert sorted(by_name) == ["apart", "brief", "shop", "solo"]
    assert by_name["solo"].skipped == "one series only: the per-series model watches it"
    assert by_name["apart"].skipped == "its 2 series share no time span"
    assert "need at least" in by_name["brief"].skipped  # 42 training steps cannot learn 2 h
    shop = by_name["shop"]
    assert (shop.skipped, shop.slos) == ("", ["s1"])
    assert (shop.train_rows, shop.scored) == (700, 300)  # 70 % and 30 % of 1,000 steps
    assert len(store.service_anomalies("shop")) == shop.new_anomalies == shop.anomalies


def test_a_second_pass_over_the_same_rows_scores_and_stores_nothing(tmp_path):
    store = SloStore(f"sqlite:///{tmp_path / 'slo.db'}")
    frame = prepared({"cpu": ("2024-01-01", 1000), "db": ("2024-01-01", 1000)})
    labels = {"cpu": {"service": "shop"}, "db": {"service": "shop"}}
    settings = Settings(home=tmp_path)
    model_services(settings, store, frame, labels, {}, "1")
    (again,) = model_services(settings, store, frame, labels, {}, "2")
    assert (again.scored, again.anomalies, again.new_anomalies) == (0, 0, 0)
    assert set(store.service_anomalies("shop")["model_version"]) <= {"1"}
