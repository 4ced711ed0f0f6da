"""Real Prometheus, Alertmanager and exporter for the monitor's end-to-end tests."""

from __future__ import annotations

import pytest

from tests.fixtures.prom_live import alertmanager, exporter, prometheus


@pytest.fixture
def app():
    with exporter() as state:
        yield state


@pytest.fixture
def prom(app, tmp_path):
    with prometheus(tmp_path / "prometheus", app.url) as service:
        yield service


@pytest.fixture
def am(tmp_path):
    with alertmanager(tmp_path / "alertmanager") as service:
        yield service
