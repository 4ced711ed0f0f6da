"""The UI's plain modules alone: auth, editing, replay, data; and the store's new parts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import yaml

from slopipe.alert import outbox
from slopipe.alert.rules import Alert
from slopipe.errors import SloConflictError, SloError, SloValidationError
from slopipe.pipeline import demo_slo_file
from slopipe.slo.catalogue import resolve_tiers
from slopipe.slo.store import SloStore
from slopipe.ui import auth, data, editing, replay

DEMO = {d["metadata"]["name"]: d for d in yaml.safe_load_all(demo_slo_file().read_text()) if d}
LATENCY = DEMO["checkout-latency"]


@pytest.fixture
def store(tmp_path) -> SloStore:
    return SloStore(f"sqlite:///{tmp_path / 'slo.db'}")


# -- auth ----------------------------------------------------------------------------------


def test_a_password_matches_its_own_hash_only():
    hashed = auth.hash_password("correct horse")
    assert hashed.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("correct horse", hashed)
    assert not auth.verify_password("correct hors", hashed)
    assert auth.hash_password("correct horse") != hashed  # a new salt every time


@pytest.mark.parametrize("hashed", ["", "plain", "bcrypt$1$2$3$x$y", "scrypt$a$b$c$d$e"])
def test_a_malformed_hash_matches_nothing(hashed):
    assert not auth.verify_password("anything", hashed)


@pytest.mark.parametrize(
    ("name", "password", "signed_in"),
    [
        ("ann", "pw-ann", "ann"),
        (" ann ", "pw-ann", "ann"),
        ("ann", "pw-bob", None),
        ("carl", "pw-ann", None),
        ("ann' OR 1=1 --", "pw-ann", None),
    ],
)
def test_only_a_configured_editor_with_the_right_password_signs_in(name, password, signed_in):
    editors = {"ann": auth.hash_password("pw-ann"), "bob": auth.hash_password("pw-bob")}
    assert auth.authenticate(editors, name, password) == signed_in


def test_an_empty_password_is_not_hashed():
    with pytest.raises(ValueError, match="empty password"):
        auth.hash_password("")


# -- store: versions with optimistic concurrency, feedback ---------------------------------


def test_a_save_based_on_the_current_version_makes_the_next_one(store):
    store.apply([("checkout-latency", LATENCY)], author="slopipe run", reason="applied")
    edited = {**LATENCY, "spec": {**LATENCY["spec"], "description": "tighter"}}
    assert store.apply_if_current("checkout-latency", edited, 1, "ann", "why") == 2
    newest = store.history("checkout-latency")[-1]
    assert (newest.version, newest.author, newest.reason) == (2, "ann", "why")
    assert newest.document["spec"]["description"] == "tighter"


def test_a_save_based_on_an_old_version_is_refused_naming_the_current_one(store):
    store.apply([("checkout-latency", LATENCY)], author="slopipe run", reason="applied")
    store.apply_if_current("checkout-latency", {**LATENCY, "x": 1}, 1, "ann", "first")
    with pytest.raises(SloConflictError) as refused:
        store.apply_if_current("checkout-latency", {**LATENCY, "x": 2}, 1, "bob", "second")
    assert (refused.value.based_on_version, refused.value.current_version) == (1, 2)
    assert "version 2 was saved since" in str(refused.value)
    assert [v.author for v in store.history("checkout-latency")] == ["slopipe run", "ann"]


def test_editing_an_unknown_slo_is_refused(store):
    with pytest.raises(SloError, match="not in the SLO store"):
        store.apply_if_current("nope", LATENCY, 1, "ann", "why")


def test_feedback_keeps_every_verdict_and_labels_with_the_newest(store):
    at = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    store.record_feedback("cpu", at, "true_positive", "saturated", "ann")
    store.record_feedback("cpu", at, "false_positive", "batch job", "bob")
    store.record_feedback("lat", at, "true_positive", "", "ann")
    labels = store.feedback()
    assert list(labels.columns) == [
        "series",
        "timestamp",
        "verdict",
        "comment",
        "author",
        "created_at",
    ]
    assert list(zip(labels["series"], labels["verdict"], labels["author"], strict=False)) == [
        ("cpu", "false_positive", "bob"),
        ("lat", "true_positive", "ann"),
    ]
    assert labels["timestamp"][0] == pd.Timestamp(at)
    assert len(store.feedback(latest_only=False)) == 3


def test_a_verdict_other_than_true_or_false_positive_is_refused(store):
    with pytest.raises(SloError, match="use one of true_positive, false_positive"):
        store.record_feedback("cpu", datetime.now(UTC), "maybe", "", "ann")


def test_comments_are_stored_as_typed_never_as_sql(store):
    comment = "'); DROP TABLE anomaly_feedback; --"
    store.record_feedback("cpu", datetime.now(UTC), "true_positive", comment, "ann")
    assert store.feedback()["comment"][0] == comment


def test_feedback_exports_as_csv_and_json(store):
    at = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    store.record_feedback("cpu", at, "true_positive", "saturated, again", "ann")
    csv = data.feedback_export(store, "csv").splitlines()
    assert csv[0] == "series,timestamp,verdict,comment,author,created_at"
    assert csv[1].startswith('cpu,2026-11-28T11:00:00+00:00,true_positive,"saturated, again",ann,')
    rows = json.loads(data.feedback_export(store, "json"))
    assert rows[0]["verdict"] == "true_positive" and rows[0]["timestamp"].startswith("2026-11-28")


# -- editing -------------------------------------------------------------------------------


def _proposal(**changes) -> editing.Proposal:
    start = editing.current_proposal(LATENCY)
    return editing.Proposal(**{**start.__dict__, **changes})


def _rules(tiers) -> list[tuple]:
    return [
        (t.name, t.severity, t.burn_rate, t.long_window, t.short_window, t.enabled) for t in tiers
    ]


def test_a_document_without_tiers_gets_its_periods_catalogue():
    # windows/7d.yaml: 8 %, 20 %, 40 %, 50 % of a 168 h budget in 1 h, 6 h, 24 h, 72 h
    assert _rules(editing.tiers_of(LATENCY)) == [
        ("page-fast", "page", pytest.approx(13.44), "1h", "5m", True),
        ("page-slow", "page", pytest.approx(5.6), "6h", "30m", True),
        ("ticket-fast", "ticket", pytest.approx(2.8), "1d", "2h", True),
        ("ticket-slow", "ticket", pytest.approx(0.5 * 168 / 72), "3d", "6h", True),
    ]


def test_a_proposal_changes_objective_window_method_and_tiers_and_round_trips():
    tiers = (editing.AlertTier("fast", "page", 10.0, "1h", "5m"),)
    edited = editing.apply_proposal(
        LATENCY, _proposal(objective_ratios=(0.985,), window="3d", tiers=tiers)
    )
    definition = editing.validate(edited)
    assert definition.objectives[0].objective_ratio == 0.985
    assert definition.window.duration == timedelta(days=3)
    assert editing.tiers_of(edited) == tiers
    assert [p["metadata"]["name"] for p in edited["spec"]["alertPolicies"]] == ["fast"]
    assert LATENCY["spec"]["timeWindow"][0]["duration"] == "7d"  # the original is untouched


def test_switching_a_tier_off_keeps_the_catalogue_and_the_engine_drops_that_tier():
    tiers = tuple(replace(t, enabled=t.name != "ticket-slow") for t in editing.tiers_of(LATENCY))
    edited = editing.apply_proposal(LATENCY, _proposal(tiers=tiers))
    definition = editing.validate(edited)
    assert "alertPolicies" not in edited["spec"]
    assert edited["metadata"]["annotations"]["slopipe.io/disable-tiers"] == "ticket-slow"
    active = resolve_tiers(definition.alerting, definition.window.duration)
    assert [t.name for t in active] == ["page-fast", "page-slow", "ticket-fast"]
    assert editing.tiers_of(edited) == tiers
    back_on = editing.apply_proposal(edited, _proposal(tiers=editing.tiers_of(LATENCY)))
    assert "slopipe.io/disable-tiers" not in back_on["metadata"].get("annotations", {})


def test_a_new_window_with_untouched_tiers_follows_the_new_periods_catalogue():
    edited = editing.apply_proposal(LATENCY, _proposal(window="28d"))
    editing.validate(edited)
    # windows/28d.yaml: 2 %, 5 %, 10 %, 10 % of a 672 h budget in 1 h, 6 h, 24 h, 72 h
    assert [t.burn_rate for t in editing.tiers_of(edited)] == pytest.approx(
        [13.44, 5.6, 2.8, 0.1 * 672 / 72]
    )


def test_a_changed_catalogue_tier_is_written_into_the_document():
    first, *rest = editing.tiers_of(LATENCY)
    tiers = (replace(first, burn_rate=20.0), *rest)
    edited = editing.apply_proposal(LATENCY, _proposal(tiers=tiers))
    editing.validate(edited)
    assert len(edited["spec"]["alertPolicies"]) == 4
    assert editing.tiers_of(edited)[0].burn_rate == 20.0
    assert editing.tiers_of(edited)[1:] == tuple(rest)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window": "7 days"}, "spec.timeWindow[0].duration"),
        ({"objective_ratios": (1.0,)}, "spec.objectives[0].target"),
        ({"budgeting_method": "Sometimes"}, "spec.budgetingMethod"),
        ({"time_slice_window": "five"}, "spec.objectives[0].timeSliceWindow"),
        (
            {"tiers": (editing.AlertTier("t", "page", 14.4, "5m", "1h"),)},
            "spec.alertPolicies[0].spec.conditions[0].spec.condition.alertAfter",
        ),
        (
            {"tiers": (editing.AlertTier("t", "page", 0.0, "1h", "5m"),)},
            "spec.alertPolicies[0].spec.conditions[0].spec.condition.threshold",
        ),
        (
            {"tiers": (editing.AlertTier("t", "page", 1.0, "1h", "5m"),), "window": "1h"},
            "alerting.tiers[t].long_window",
        ),
        (
            {"tiers": (editing.AlertTier("t", "sms", 1.0, "1h", "5m"),)},
            "spec.alertPolicies[0].spec.conditions[0].spec.severity",
        ),
    ],
)
def test_an_invalid_proposal_is_refused_naming_the_slo_and_field(changes, field):
    with pytest.raises(SloValidationError) as refused:
        editing.validate(editing.apply_proposal(LATENCY, _proposal(**changes)))
    assert refused.value.slo == "checkout-latency"
    assert refused.value.field == field


def test_the_diff_shows_only_what_changed():
    edited = editing.apply_proposal(LATENCY, _proposal(objective_ratios=(0.98,)))
    text = editing.diff(editing.apply_proposal(LATENCY, _proposal()), edited, "v1", "v2")
    changed = [line for line in text.splitlines() if line[:1] in "+-"]
    assert changed == ["--- v1", "+++ v2", "-    target: 0.99", "+    target: 0.98"]


# -- replay ----------------------------------------------------------------------------------


def test_replay_points_start_one_window_after_the_first_sample_and_end_at_the_last():
    first, last = pd.Timestamp("2026-11-16", tz="UTC"), pd.Timestamp("2026-11-30", tz="UTC")
    ends = replay.replay_ends(first, last, timedelta(days=7), max_points=200)
    assert ends[0] == pd.Timestamp("2026-11-23", tz="UTC") and ends[-1] == last
    assert (ends[1] - ends[0]) == timedelta(hours=1) and len(ends) == 169


def test_a_window_longer_than_half_the_history_is_replayed_over_the_second_half():
    first, last = pd.Timestamp("2026-11-16", tz="UTC"), pd.Timestamp("2026-11-30", tz="UTC")
    ends = replay.replay_ends(first, last, timedelta(days=28), max_points=200)
    assert ends[0] == pd.Timestamp("2026-11-23", tz="UTC")


def test_a_tier_fires_only_while_both_its_windows_burn_at_its_threshold():
    stamps = pd.date_range("2026-11-28", periods=6, freq="1h", tz="UTC")
    replayed = pd.DataFrame(
        {
            "window_end": stamps,
            "objective": "o",
            "burn_1h": [0.0, 20.0, 20.0, 20.0, 20.0, 0.0],
            "burn_5m": [0.0, 20.0, 1.0, 15.0, 15.0, 0.0],
        }
    )
    tier = editing.AlertTier("t", "page", 14.4, "1h", "5m")
    fired = replay.fired_alerts(replayed, (tier,))
    assert list(fired["starts_at"]) == [stamps[1], stamps[3]]
    assert list(fired["ends_at"]) == [stamps[2], stamps[5]]  # one step after the last point
    assert list(fired["peak_burn_rate"]) == [20.0, 20.0]


def test_replay_reads_each_source_once_and_matches_evaluate_at_every_point():
    from slopipe.slo.evaluate import evaluate
    from slopipe.slo.openslo import parse_slo

    definition = parse_slo(LATENCY)
    stamps = pd.date_range("2026-11-20", "2026-11-30", freq="1min", tz="UTC", inclusive="right")
    values = 0.2 + 0.2 * (stamps.hour == 3)
    calls = []

    def fetch(source, start, end):
        calls.append((start, end))
        frame = pd.DataFrame({"timestamp": stamps, "value": values})
        return frame[(frame["timestamp"] > start) & (frame["timestamp"] <= end)]

    ends = pd.date_range("2026-11-28", periods=4, freq="12h", tz="UTC")
    replayed = replay.replay(definition, fetch, ends)
    assert len(calls) == 1
    for end, row in zip(ends, replayed.itertuples(), strict=True):
        status = evaluate(definition, fetch, end)[0]
        assert row.sli == pytest.approx(status.sli)
        assert row.error_budget_remaining == pytest.approx(status.error_budget_remaining)


# -- data: 500 SLOs, filters, pages, downsampling ------------------------------------------


def _many_slos(store: SloStore, count: int) -> None:
    documents = []
    for i in range(count):
        doc = json.loads(json.dumps(LATENCY))
        doc["metadata"] = {"name": f"svc{i:03d}-latency", "labels": {"team": f"t{i % 7}"}}
        doc["spec"]["service"] = f"svc{i % 10}"
        documents.append((doc["metadata"]["name"], doc))
    store.apply(documents, author="test", reason="many")
    now = datetime(2026, 11, 30, tzinfo=UTC)
    rows = [
        {
            "name": name,
            "version": 1,
            "objective": "p99 under 300 ms",
            "evaluated_at": now,
            "window_start": now - timedelta(days=7),
            "window_end": now,
            "sli": 0.99,
            "error_budget_remaining": (i % 50) / 50 - 0.5,
            "state": "ok" if (i % 50) >= 25 else "breached",
            "details": json.dumps({"burn_rates": {"1h": 1.5}, "coverage": 1.0}),
        }
        for i, (name, _) in enumerate(documents)
        if i % 100 != 99
    ]
    store.record_evaluations(rows)


def test_the_overview_of_500_slos_sorts_filters_and_pages(store):
    _many_slos(store, 500)
    rows = data.overview(store)
    assert len(rows) == 500
    assert rows["error_budget_remaining"].iloc[0] == -0.5
    assert rows["error_budget_remaining"].iloc[:495].is_monotonic_increasing
    assert rows["state"].iloc[-5:].tolist() == ["no_data"] * 5
    assert rows["burn_1h"].iloc[0] == 1.5
    team3 = data.filter_overview(rows, services=["svc3"], label="team=t3")
    assert len(team3) == 50 // 7 + 1 and set(team3["service"]) == {"svc3"}
    assert len(data.filter_overview(rows, search="SVC04")) == 10
    assert len(data.filter_overview(rows, search="(.*")) == 0  # plain text, not a regex
    assert data.page_count(len(rows), 25) == 20
    assert len(data.page(rows, 20, 25)) == 25 and data.page(rows, 20, 25).index[0] == 475


def test_display_downsampling_keeps_every_spike_and_few_points():
    stamps = pd.date_range("2026-11-01", periods=30 * 24 * 60, freq="1min", tz="UTC")
    frame = pd.DataFrame({"timestamp": stamps, "value": 1.0})
    frame.loc[12345, "value"], frame.loc[33333, "value"] = 50.0, -7.0
    shown = data.downsample(frame, max_points=1500)
    assert len(shown) <= 1600
    assert shown["value"].max() == 50.0 and shown["value"].min() == -7.0
    assert shown["timestamp"].is_monotonic_increasing


def test_versioned_saves_and_feedback_work_the_same_on_postgresql(pg_url):
    store = SloStore(pg_url)
    store.apply([("checkout-latency", LATENCY)], author="slopipe run", reason="applied")
    assert store.apply_if_current("checkout-latency", {**LATENCY, "x": 1}, 1, "ann", "a") == 2
    with pytest.raises(SloConflictError):
        store.apply_if_current("checkout-latency", {**LATENCY, "x": 2}, 1, "bob", "b")
    at = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    store.record_feedback("cpu", at, "false_positive", "batch job", "ann")
    labels = store.feedback()
    assert (labels["verdict"][0], labels["timestamp"][0]) == ("false_positive", pd.Timestamp(at))
    assert data.anomalies_with_feedback(store).empty
    assert data.alert_history(store, "checkout-latency", []).empty
    breach = {"alertname": "SLOBreached", "slo": "checkout-latency"}
    outbox.enqueue(store, [Alert("SLOBreached", "ticket", breach, {"summary": "s"}, at)])
    history = data.alert_history(store, "checkout-latency", [])
    assert history["starts_at"].tolist() == [pd.Timestamp(at)]


def test_anomalies_less_than_30_minutes_apart_are_one_episode():
    stamps = pd.to_datetime(
        ["2026-11-28 10:00", "2026-11-28 10:20", "2026-11-28 10:45", "2026-11-28 12:00"],
        utc=True,
    )
    flagged = pd.DataFrame({"series": ["cpu"] * 4 + ["lat"], "timestamp": [*stamps, stamps[1]]})
    assert data.episode(flagged, "cpu", stamps[1])["timestamp"].tolist() == list(stamps[:3])
    assert data.episode(flagged, "cpu", stamps[3])["timestamp"].tolist() == [stamps[3]]
    assert data.episode(flagged, "lat", stamps[0]).empty


def test_feedback_on_an_episode_is_stored_all_at_once(store):
    stamps = [datetime(2026, 11, 28, 10, m, tzinfo=UTC) for m in (0, 1, 2)]
    assert store.record_feedback("cpu", stamps, "true_positive", "incident 42", "ann") == 3
    assert store.feedback()["timestamp"].tolist() == [pd.Timestamp(t) for t in stamps]
