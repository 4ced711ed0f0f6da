"""SLO detail: SLI against the objective, budget, burn rate per tier, the underlying series
with anomalies and feedback, the alert history, and the anomalies of its service's model with
their top metrics."""

from __future__ import annotations

import json

import streamlit as st

from slopipe.slo.openslo import parse_slo
from slopipe.slo.store import StoredSlo
from slopipe.ui import charts, data, editing
from slopipe.ui.views import common

STATE_BADGES = {"breached": "red", "insufficient_data": "orange", "no_data": "gray", "ok": "green"}


def render(ctx) -> None:
    st.title("SLO detail")
    current = {s.name: s for s in ctx.store.current()}
    name = common.choose_slo(ctx, sorted(current), key="detail_slo")
    if name is None:
        return
    stored = current[name]
    definition = parse_slo(stored.document, where=f"stored SLO {name}")
    _header(ctx, stored, definition)
    ends = common.replay_ends(ctx, definition)
    if ends is None:
        st.warning("Its series hold no samples in the lake yet; nothing to chart.")
    else:
        _charts(ctx, stored, definition, ends)
    _series(ctx, definition)
    st.subheader("Alert history")
    series = data.lake_series(definition)
    alerts = data.alert_history(ctx.store, name, series, definition.service)
    if alerts.empty:
        st.caption("No alert was raised about this SLO or its series.")
    else:
        st.dataframe(alerts, hide_index=True, width="stretch")
    _service_anomalies(ctx, definition.service)


def _header(ctx, stored: StoredSlo, definition) -> None:
    rows = common.overview_rows(ctx, common.generation(), ctx.key)
    mine = rows[rows["name"] == stored.name]
    st.caption(
        f"service **{definition.service or '—'}** · version {stored.version} by "
        f"{stored.author} · {definition.window.duration.days}d rolling window · "
        f"{definition.budgeting_method} · {data.describe_sli(definition)}"
    )
    for row in mine.itertuples():
        colour = STATE_BADGES.get(row.state, "gray")
        st.markdown(f"**{row.objective or 'objective'}** :{colour}-badge[{row.state}]")
        a, b, c, d = st.columns(4)
        a.metric("objective", f"{row.objective_ratio:.3%}")
        b.metric("SLI", _percent(row.sli, 3))
        c.metric("error budget left", _percent(row.error_budget_remaining, 1))
        d.metric("coverage", _percent(row.coverage, 1))


def _charts(ctx, stored: StoredSlo, definition, ends) -> None:
    replayed = common.replayed(ctx, json.dumps(stored.document, sort_keys=True), ends, ctx.lake_key)
    step = ends[1] - ends[0] if len(ends) > 1 else None
    st.caption(
        f"Replayed with the current definition at {len(ends)} window ends"
        + (f", every {_duration(step)}" if step is not None else "")
        + " over full-resolution data."
    )
    for objective in definition.objectives:
        mine = replayed[replayed["objective"] == objective.name]
        left, right = st.columns(2)
        left.altair_chart(charts.sli_chart(mine, objective.objective_ratio), width="stretch")
        right.altair_chart(charts.budget_chart(mine), width="stretch")
        tiers = [t for t in editing.tiers_of(stored.document) if t.enabled]
        columns = st.columns(len(tiers))
        for column, tier in zip(columns, tiers, strict=False):
            column.altair_chart(charts.burn_rate_chart(mine, tier), width="stretch")


def _series(ctx, definition) -> None:
    st.subheader("Underlying series")
    threshold = definition.objectives[0].threshold
    flagged = data.anomalies_with_feedback(ctx.store, data.lake_series(definition))
    for series in data.lake_series(definition):
        samples = ctx.lake.read(series)
        if samples.empty:
            continue
        mine = flagged[flagged["series"] == series]
        marks = mine.merge(samples[["timestamp", "value"]], on="timestamp", how="inner")
        shown = data.downsample(samples)
        st.altair_chart(charts.series_chart(shown, marks, series, threshold), width="stretch")
        st.caption(
            f"{len(samples):,} samples, {len(shown):,} drawn (min and max per bucket); "
            f"{len(mine)} flagged anomalies."
        )
    reviewed = flagged[flagged["verdict"] != ""]
    st.markdown("**Feedback on these anomalies**")
    if reviewed.empty:
        st.caption("No feedback yet: mark anomalies on the Feedback page.")
    else:
        st.dataframe(reviewed, hide_index=True, width="stretch")


def _service_anomalies(ctx, service: str) -> None:
    st.subheader("Anomalies of the service model")
    if not service:
        st.caption("This SLO names no service (`spec.service`), so no service model is linked.")
        return
    found = data.service_anomalies(ctx.store, service)
    if found.empty:
        st.caption(f"The model of service **{service}** has flagged nothing.")
        return
    st.caption(
        f"{len(found):,} step(s) flagged by the model of service **{service}** over all its "
        "series; top metrics: the series most to blame, first the most."
    )
    st.dataframe(found, hide_index=True, width="stretch")


def _percent(value, digits: int) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}%}"


def _duration(step) -> str:
    minutes = int(step.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
