"""Fixtures of the collector tests."""

from __future__ import annotations

import pandas as pd
import pytest

from slopipe.collect.raw import collect_into
from slopipe.lake import Lake
from tests.fixtures.collecting import lake_frame, settings_for


@pytest.fixture(scope="session")
def nab_reference(nab_prometheus, tmp_path_factory) -> pd.DataFrame:
    """The lake of one uninterrupted collection of the NAB Prometheus."""
    path = tmp_path_factory.mktemp("reference") / "lake"
    collect_into(Lake(path), settings_for(nab_prometheus.url))
    return lake_frame(path)
