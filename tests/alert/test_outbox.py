"""The outbox's state machine, against a real Alertmanager."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from slopipe.alert import outbox
from slopipe.alert.rules import Alert
from slopipe.slo.store import SloStore
from tests.fixtures.prom_live import alertmanager, wait_for

T0 = pd.Timestamp.now(tz="UTC").floor("s").to_pydatetime()


def page(slo: str = "checkout") -> Alert:
    labels = {"alertname": "SLOBurnRate", "slo": slo, "severity": "page", "tier": "page-1h"}
    return Alert("SLOBurnRate", "page", labels, {"summary": "burning"}, T0)


@pytest.fixture
def store(tmp_path) -> SloStore:
    return SloStore(f"sqlite:///{tmp_path / 'slo.db'}")


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 1), (2, 2), (3, 4), (9, 60)])
def test_backoff_doubles_up_to_its_ceiling(attempts, seconds):
    assert outbox.backoff(attempts, timedelta(seconds=60)) == timedelta(seconds=seconds)


def test_the_same_condition_keeps_one_row_and_resolves_once(store):
    assert outbox.sync(store, [page()], T0).opened == 1
    assert outbox.sync(store, [page()], T0 + timedelta(seconds=5)).opened == 0
    cleared = outbox.sync(store, [], T0 + timedelta(seconds=9))
    assert (cleared.resolved, outbox.depth(store)) == (1, 1)
    (row,) = outbox.pending(store)
    assert row["state"] == "resolved" and row["ends_at"] == T0 + timedelta(seconds=9)
    assert outbox.sync(store, [page()], T0 + timedelta(seconds=20)).opened == 1  # a new episode


def test_a_down_alertmanager_backs_off_and_a_live_one_gets_each_alert_once(store, tmp_path):
    with alertmanager(tmp_path / "am") as am:
        url = am.url
        am.service.stop()
        outbox.sync(store, [page("a"), page("b")], T0)
        assert outbox.deliver(store, url, T0, attempts=1) == 0
        (first, _) = outbox.pending(store)
        assert first["attempts"] == 1 and "alertmanager" in first["last_error"]
        assert first["next_attempt_at"] == T0 + timedelta(seconds=1)
        assert outbox.deliver(store, url, T0 + timedelta(milliseconds=500), attempts=1) == 0
        assert outbox.pending(store)[0]["attempts"] == 1  # still backing off: not tried

        am.service.start()
        later = T0 + timedelta(seconds=2)
        assert outbox.deliver(store, url, later, attempts=1) == 2
        wait_for(lambda: len(am.webhook.alerts()) >= 2, 15, "two notifications")
        # re-posts while firing are the same alerts to Alertmanager: no new notification
        for step in range(1, 4):
            outbox.deliver(store, url, later + timedelta(minutes=step), attempts=1)
        cleared = datetime.now(UTC)  # Alertmanager reads endsAt against its own clock
        outbox.sync(store, [page("b")], cleared)
        assert outbox.deliver(store, url, cleared, attempts=1) == 1
        wait_for(lambda: len(am.webhook.alerts()) >= 3, 15, "the resolution")
        time.sleep(1.5)
        seen = [(a["labels"]["slo"], a["status"]) for a in am.webhook.alerts()]
        assert sorted(seen) == [("a", "firing"), ("a", "resolved"), ("b", "firing")]
        assert outbox.depth(store) == 0
