"""Every page through Streamlit's AppTest, as a viewer and as an editor, on a demo home."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from slopipe.collect import demo
from slopipe.config import load_settings
from slopipe.slo.store import SloStore
from tests.ui.conftest import APP, EDITORS

SLO = "checkout-latency"
PAGES = {
    "overview": "SLO overview",
    "detail": "SLO detail",
    "edit": "Edit SLO",
    "models": "Models",
    "feedback": "Feedback on anomalies",
}
pytestmark = pytest.mark.slow


def open_app(page: str, editor: str | None = None, slo: str = SLO) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=180)
    app.query_params["page"] = page
    app.query_params["slo"] = slo
    if editor:
        app.session_state["editor"] = editor
    return app.run()


def no_errors(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def button(app: AppTest, label_start: str):
    return next(b for b in app.button if b.label.startswith(label_start))


def chart_titles(app: AppTest) -> list[str]:
    return [json.loads(c.proto.spec).get("title", "") for c in app.get("vega_lite_chart")]


def store_of(config) -> SloStore:
    return SloStore(load_settings(config).slo_db_url)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("editor", [None, "ann"], ids=["viewer", "editor"])
def test_every_page_renders_for_both_roles(ui_config, page, editor):
    app = open_app(page, editor)
    no_errors(app)
    assert app.title[0].value == PAGES[page]
    signed_in = [s.value for s in app.sidebar.success]
    assert bool(signed_in) == bool(editor)


def test_the_overview_lists_every_slo_least_budget_remaining_first(ui_config):
    app = open_app("overview")
    table = app.dataframe[0].value
    assert list(table["name"]) == ["checkout-latency", "checkout-availability", "checkout-cpu"]
    assert list(table["state"]) == ["breached", "breached", "ok"]


def test_the_overview_filters_by_state_and_by_name(ui_config):
    app = open_app("overview")
    app.multiselect(key="overview_states").set_value(["ok"]).run()
    assert list(app.dataframe[0].value["name"]) == ["checkout-cpu"]
    app.multiselect(key="overview_states").set_value([]).run()
    app.text_input(key="overview_search").input("AVAIL").run()
    assert list(app.dataframe[0].value["name"]) == ["checkout-availability"]


def test_the_overview_opens_the_detail_page_of_a_chosen_slo(ui_config):
    app = open_app("overview", slo="")
    app.selectbox(key="overview_open").set_value("checkout-cpu").run()
    button(app, "Detail").click().run()
    assert app.title[0].value == "SLO detail"
    assert app.selectbox(key="detail_slo").value == "checkout-cpu"


def test_the_detail_page_charts_the_slo_and_shows_its_alert_history(ui_config):
    app = open_app("detail")
    no_errors(app)
    assert chart_titles(app) == [
        "SLI against the objective",
        "Error budget burning down",
        # the 7-day catalogue (windows/7d.yaml), as the SLO engine alerts on it
        "Burn rate, tier page-fast: page 13.44x over 1h/5m",
        "Burn rate, tier page-slow: page 5.6x over 6h/30m",
        "Burn rate, tier ticket-fast: ticket 2.8x over 1d/2h",
        "Burn rate, tier ticket-slow: ticket 1.16667x over 3d/6h",
        "http_latency_p99_seconds with flagged anomalies",
    ]
    assert any("flagged anomalies" in c.value for c in app.caption)
    alerts = app.dataframe[0].value
    assert "SLOBreached" in set(alerts["alert"])


def test_a_viewer_sees_the_definition_but_cannot_edit(ui_config):
    app = open_app("edit")
    assert any("sign in as an editor" in i.value for i in app.info)
    assert not [b for b in app.button if b.label.startswith("Save")]
    assert "checkout-latency" in app.code[0].value


def test_an_editor_signs_in_with_the_configured_password(ui_config):
    app = open_app("edit")
    app.sidebar.text_input(key="sign_in_name").input("ann")
    app.sidebar.text_input(key="sign_in_password").input(EDITORS["ann"])
    button(app, "Sign in").click().run()
    assert app.session_state["editor"] == "ann"
    assert "Signed in as **ann**" in app.sidebar.success[0].value


def test_a_wrong_password_signs_no_one_in(ui_config):
    app = open_app("edit")
    app.sidebar.text_input(key="sign_in_name").input("ann")
    app.sidebar.text_input(key="sign_in_password").input(EDITORS["bob"])
    button(app, "Sign in").click().run()
    assert "editor" not in app.session_state
    assert app.sidebar.error[0].value == "Unknown editor or wrong password."


def _propose_objective(app: AppTest, percent: float, reason: str = "") -> AppTest:
    app.number_input(key=f"objective_0::{SLO}::1").set_value(percent).run()
    if reason:
        app.text_input(key=f"reason::{SLO}").input(reason).run()
    return app


def test_an_editor_previews_and_saves_a_new_objective_with_author_and_reason(ui_config):
    app = _propose_objective(open_app("edit", "ann"), 98.5, "one slow slice in 200 is fine")
    no_errors(app)
    assert any(s.value.startswith("What if") for s in app.subheader)
    assert chart_titles(app) == [
        "Error budget: current against proposed",
        "Alerts that would have fired",
    ]
    button(app, "Save as a new version").click().run()
    assert app.main.success[-1].value == f"Saved {SLO} version 2 by ann."
    newest = store_of(ui_config).history(SLO)[-1]
    assert (newest.version, newest.author) == (2, "ann")
    assert newest.reason == "one slow slice in 200 is fine"
    assert newest.document["spec"]["objectives"][0]["target"] == pytest.approx(0.985)


def test_a_save_without_a_reason_is_refused(ui_config):
    app = _propose_objective(open_app("edit", "ann"), 98.5)
    button(app, "Save as a new version").click().run()
    assert "Say why" in app.error[0].value
    assert store_of(ui_config).history(SLO)[-1].version == 1


def test_an_invalid_window_shows_the_slo_engine_message(ui_config):
    app = open_app("edit", "ann")
    app.text_input(key=f"window::{SLO}::1").input("7 days").run()
    message = app.error[0].value
    assert "slo checkout-latency: spec.timeWindow[0].duration" in message
    assert not [b for b in app.button if b.label.startswith("Save")]


def test_the_second_of_two_editors_saving_at_once_is_refused_and_sees_the_current_version(
    ui_config,
):
    ann = _propose_objective(open_app("edit", "ann"), 98.5, "ann: looser")
    bob = _propose_objective(open_app("edit", "bob"), 99.5, "bob: stricter")
    button(ann, "Save as a new version").click().run()
    button(bob, "Save as a new version").click().run()
    assert bob.warning[0].value.startswith("Version 2 was saved by ann after the version 1")
    refusal = bob.error[0].value
    assert "not saved: your edit started from version 1, but version 2 was saved" in refusal
    assert any("Current version 2" in m.value and "ann" in m.value for m in bob.markdown)
    history = store_of(ui_config).history(SLO)
    assert [(v.version, v.author) for v in history] == [(1, "slopipe run"), (2, "ann")]


def test_the_history_tab_shows_every_version_and_a_diff(ui_config):
    store = store_of(ui_config)
    document = store.history(SLO)[-1].document
    document["spec"]["objectives"][0]["target"] = 0.98
    store.apply_if_current(SLO, document, 1, "ann", "looser")
    app = open_app("edit")
    versions = app.dataframe[0].value
    assert list(versions["version"]) == [2, 1]
    assert list(versions["author"]) == ["ann", "slopipe run"]
    diff = app.code[-1].value
    assert "-    target: 0.99" in diff and "+    target: 0.98" in diff


def test_an_editor_marks_an_anomaly_a_false_positive_and_the_detail_page_shows_it(ui_config):
    app = open_app("feedback", "ann")
    app.selectbox(key="feedback_anomaly").set_value(0).run()
    app.checkbox[0].uncheck()
    app.radio(key="feedback_verdict").set_value("false_positive")
    app.text_area(key="feedback_comment").input("deploy at 17:45, expected")
    button(app, "Save feedback").click().run()
    assert app.main.success[-1].value.startswith("Saved: 1 anomaly on ")
    said = store_of(ui_config).feedback()
    assert len(said) == 1
    assert (said["verdict"][0], said["author"][0]) == ("false_positive", "ann")
    assert said["comment"][0] == "deploy at 17:45, expected"
    detail = open_app("detail", slo=_slo_of(said["series"][0]))
    assert "false_positive" in set(detail.dataframe[0].value["verdict"])


def test_an_editor_marks_a_whole_episode_at_once(ui_config):
    from slopipe.ui import data

    store = store_of(ui_config)
    # The champion flags the demo's latency incident once (its quiet period damps the rest);
    # a noisier model version flags every other minute of its first 47, one episode of 24.
    minutes = pd.date_range("2026-11-28 11:00", periods=24, freq="2min", tz="UTC")
    noisy = pd.DataFrame(
        {"series": "http_latency_p99_seconds", "timestamp": minutes, "anomaly_score": 0.9}
    )
    store.record_scores(noisy, "noisy", {})
    flagged = data.anomalies_with_feedback(store)
    latency = flagged[flagged["series"] == "http_latency_p99_seconds"]
    first = minutes[0]
    expected = data.episode(flagged, "http_latency_p99_seconds", first)
    assert len(expected) == 24
    app = open_app("feedback", "ann")
    index = flagged.index[
        (flagged["series"] == latency["series"].iloc[0]) & (flagged["timestamp"] == first)
    ][0]
    app.selectbox(key="feedback_anomaly").set_value(int(index)).run()
    assert app.checkbox[0].value  # proposed when there are several
    app.radio(key="feedback_verdict").set_value("true_positive")
    button(app, "Save feedback").click().run()
    assert app.main.success[-1].value.startswith(f"Saved: {len(expected)} anomalies on ")
    said = store.feedback()
    assert len(said) == len(expected) and set(said["verdict"]) == {"true_positive"}
    assert set(said["timestamp"]) == set(expected["timestamp"])


def _slo_of(series: str) -> str:
    return {
        "http_latency_p99_seconds": "checkout-latency",
        "cpu_utilization": "checkout-cpu",
    }.get(series, "checkout-availability")


def test_a_viewer_cannot_give_feedback_but_can_export(ui_config):
    app = open_app("feedback")
    assert any("give feedback" in i.value for i in app.info)
    assert not [b for b in app.button if b.label == "Save feedback"]
    assert len(app.get("download_button")) == 2


def test_the_models_page_names_the_champion_and_why(ui_config):
    app = open_app("models")
    no_errors(app)
    assert app.success[0].value.startswith("**Champion: version 1**")
    assert "better than chance" in app.success[0].value


@pytest.fixture
def two_versions(ui_config) -> str:
    """Register the demo's model again as version 2 (no training: same run, same files)."""
    from slopipe.registry.mlflow_registry import Registry

    registry = Registry(load_settings(ui_config))
    first = registry.client.get_model_version(registry.name, "1")
    registry.client.create_model_version(registry.name, first.source, first.run_id)
    return registry.name


def test_an_editor_promotes_a_version_then_rolls_back_with_reasons(ui_config, two_versions):
    from slopipe.registry.mlflow_registry import Registry

    app = open_app("models", "ann")
    app.selectbox(key="models_version").set_value("2").run()
    button(app, "Promote version 2").click().run()
    assert "Give a reason" in app.main.error[0].value  # no reason, no confirmation
    app.text_input(key="models_reason").input("retrained on the new traffic mix")
    app.checkbox(key="models_confirm").check()
    button(app, "Promote version 2").click().run()
    registry = Registry(load_settings(ui_config))
    assert registry.champion().version == "2"
    assert "Champion: version 2" in app.main.success[0].value
    assert "set by ann: retrained on the new traffic mix" in app.main.success[0].value

    app.selectbox(key="models_version").set_value("1").run()
    app.text_input(key="models_reason").input("version 2 pages on every deploy")
    app.checkbox(key="models_confirm").check()
    button(app, "Roll back to version 1").click().run()
    assert registry.champion().version == "1"
    tags = registry.client.get_model_version(two_versions, "1").tags
    assert tags["rollback_reason"] == "version 2 pages on every deploy"
    assert (tags["rolled_back_from"], tags["champion_set_by"]) == ("2", "ann")


def test_a_viewer_cannot_promote(ui_config, two_versions):
    app = open_app("models")
    app.selectbox(key="models_version").set_value("2").run()
    assert any("promote or roll back" in i.value for i in app.info)
    assert not [b for b in app.button if b.label.startswith("Promote")]


def test_rolling_back_to_a_newer_version_is_refused(ui_config, two_versions):
    from slopipe.errors import RegistryError
    from slopipe.registry.mlflow_registry import Registry

    registry = Registry(load_settings(ui_config))
    with pytest.raises(RegistryError, match="older than the champion"):
        registry.rollback("2", "why", "ann")
    versions = registry.versions()
    assert [(v.version, v.aliases) for v in versions] == [
        ("2", ()),
        ("1", ("challenger", "champion")),
    ]
    assert versions[1].metrics["train_rows"] > 0


def test_the_overview_of_500_slos_shows_one_page_at_a_time(tmp_path, monkeypatch):
    from tests.ui.test_units import _many_slos

    home = tmp_path / "many"
    home.mkdir()
    _many_slos(SloStore(f"sqlite:///{home / 'slo.db'}"), 500)
    monkeypatch.delenv("SLOPIPE_CONFIG", raising=False)
    monkeypatch.setenv("SLOPIPE_HOME", str(home))
    app = open_app("overview", slo="")
    no_errors(app)
    assert len(app.dataframe[0].value) == 25
    assert app.number_input(key="overview_page").label == "Page (of 20)"
    assert app.caption[0].value.startswith("500 of 500 SLO objectives")
    app.number_input(key="overview_page").set_value(20).run()
    assert app.dataframe[0].value["state"].iloc[-1] == "no_data"
    app.text_input(key="overview_search").input("svc123").run()
    assert list(app.dataframe[0].value["name"]) == ["svc123-latency"]
    app.selectbox(key="overview_open").set_value("svc123-latency")
    button(app, "Detail").click().run()
    no_errors(app)
    assert any("hold no samples" in w.value for w in app.warning)


def test_the_detail_page_lists_the_service_models_anomalies_with_their_top_metrics(ui_config):
    app = open_app("detail")
    no_errors(app)
    tables = [d.value for d in app.dataframe if "top_metrics" in d.value.columns]
    (found,) = tables
    assert len(found) > 0
    found["timestamp"] = pd.to_datetime(found["timestamp"], utc=True)
    scored_from = found["timestamp"].min()
    for incident in demo.incidents():
        if incident.start < scored_from:
            continue
        inside = found[found["timestamp"].between(incident.start, incident.end)]
        assert len(inside) > 0, incident
        firsts = {metrics.split(", ")[0] for metrics in inside["top_metrics"]}
        assert firsts == {incident.series}, incident
    alerts = next(d.value for d in app.dataframe if "alert" in d.value.columns)
    assert "ServiceAnomalyDetected" in set(alerts["alert"])
