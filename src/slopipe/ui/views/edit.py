"""Edit SLO: change objectives, window, budgeting method and alert tiers; preview what the
stored history would have looked like; save a new version with author and reason; and the
history of every version with diffs."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from slopipe.errors import SloConflictError, SloError, SloValidationError
from slopipe.ui import charts, editing, replay
from slopipe.ui.views import common

REASON_CHARS = 500


def render(ctx) -> None:
    st.title("Edit SLO")
    current = {s.name: s for s in ctx.store.current()}
    name = common.choose_slo(ctx, sorted(current), key="edit_slo")
    if name is None:
        return
    edit_tab, history_tab = st.tabs(["Edit", "History"])
    with history_tab:
        _history(ctx, name)
    with edit_tab:
        _edit(ctx, name, current[name])


def _edit(ctx, name: str, stored) -> None:
    author = common.require_editor("change this SLO")
    if not author:
        st.code(editing.as_yaml(stored.document), language="yaml")
        return
    base_key = f"edit_base::{name}"
    base_version = st.session_state.setdefault(base_key, stored.version)
    base = next(v for v in ctx.store.history(name) if v.version == base_version)
    st.caption(
        f"Editing from version {base.version} "
        f"({base.author}, {base.created_at:%Y-%m-%d %H:%M} UTC)."
    )
    if base.version != stored.version:
        st.warning(
            f"Version {stored.version} was saved by {stored.author} after the version "
            f"{base.version} you are editing: saving will be refused. Review it in History."
        )
    proposal = _form(name, base)
    try:
        edited = editing.apply_proposal(base.document, proposal)
        definition = editing.validate(edited)
    except (SloValidationError, TypeError, ValueError) as error:
        st.error(f"Not valid: {error}")
        return
    if edited == editing.apply_proposal(base.document, editing.current_proposal(base.document)):
        st.info("No change yet: adjust a field above to preview and save.")
        return
    with st.expander("What changes (YAML diff)"):
        st.code(editing.diff(base.document, edited, f"version {base.version}", "proposed"), "diff")
    _preview(ctx, base.document, edited, definition)
    _save(ctx, name, edited, base, author)


def _form(name: str, base) -> editing.Proposal:
    start = editing.current_proposal(base.document)
    key = f"{name}::{base.version}"
    objectives = base.document["spec"]["objectives"]
    columns = st.columns(max(len(objectives), 1) + 2)
    percents = [
        columns[i].number_input(
            f"Objective % ({o.get('displayName') or f'objective {i + 1}'})",
            min_value=50.0,
            max_value=99.9999,
            value=round(ratio * 100, 4),
            step=0.01,
            format="%.4f",
            key=f"objective_{i}::{key}",
        )
        for i, (o, ratio) in enumerate(zip(objectives, start.objective_ratios, strict=False))
    ]
    window = columns[-2].text_input(
        "Window (e.g. 7d, 28d)", start.window, max_chars=8, key=f"window::{key}"
    )
    method = columns[-1].selectbox(
        "Budgeting method",
        editing.METHODS,
        index=editing.METHODS.index(start.budgeting_method),
        key=f"method::{key}",
    )
    time_slice = start.time_slice_window or "5m"
    if method != "Occurrences":
        time_slice = st.text_input("Time slice", time_slice, max_chars=8, key=f"slice::{key}")
    return editing.Proposal(
        objective_ratios=tuple(round(p / 100.0, 8) for p in percents),
        window=window,
        budgeting_method=method,
        time_slice_window=time_slice,
        tiers=_tiers(start.tiers, key),
    )


def _tiers(tiers, key: str) -> tuple[editing.AlertTier, ...]:
    st.markdown(
        "**Alert tiers** (multi-window burn rate: fires when both windows reach it). "
        "Switching tiers off keeps the period's catalogue; any other change writes the "
        "tiers into the SLO."
    )
    frame = pd.DataFrame([t.__dict__ for t in tiers])
    windows = list(editing.BURN_WINDOWS)
    edited = st.data_editor(
        frame,
        num_rows="dynamic",
        hide_index=True,
        key=f"tiers::{key}",
        column_config={
            "name": st.column_config.TextColumn("tier", max_chars=40),
            "severity": st.column_config.SelectboxColumn(options=editing.SEVERITIES, required=True),
            "burn_rate": st.column_config.NumberColumn("burn rate", min_value=0.01, required=True),
            "long_window": st.column_config.SelectboxColumn(
                "long window", options=windows, required=True
            ),
            "short_window": st.column_config.SelectboxColumn(
                "short window", options=windows, required=True
            ),
            "enabled": st.column_config.CheckboxColumn("on", default=True),
        },
    )
    rows = edited.dropna(how="all").to_dict(orient="records")
    return tuple(_tier(r) for r in rows)


def _tier(row: dict) -> editing.AlertTier:
    severity, long_window = str(row["severity"]), str(row["long_window"])
    name = row.get("name")
    return editing.AlertTier(
        name=str(name).strip()
        if isinstance(name, str) and name.strip()
        else f"{severity}-{long_window}",
        severity=severity,
        burn_rate=float(row["burn_rate"]),
        long_window=long_window,
        short_window=str(row["short_window"]),
        enabled=row.get("enabled") is not False,
    )


def _preview(ctx, document: dict, edited: dict, definition) -> None:
    st.subheader("What if: the stored history under the proposed definition")
    ends = common.replay_ends(ctx, definition)
    if ends is None:
        st.warning("Its series hold no samples yet; no preview, but you can still save.")
        return
    before = common.replayed(ctx, json.dumps(document, sort_keys=True), ends, ctx.lake_key)
    after = common.replayed(ctx, json.dumps(edited, sort_keys=True), ends, ctx.lake_key)
    fired_before = replay.fired_alerts(before, editing.tiers_of(document))
    fired_after = replay.fired_alerts(after, editing.tiers_of(edited))
    a, b, c = st.columns(3)
    a.metric("budget left now", _last(after), delta=_delta(before, after), delta_color="normal")
    b.metric(
        "alerts fired (proposed)",
        len(fired_after),
        delta=len(fired_after) - len(fired_before),
        delta_color="inverse",
    )
    c.metric("alerts fired (current)", len(fired_before))
    st.altair_chart(charts.whatif_budget_chart(before, after), width="stretch")
    if fired_before.empty and fired_after.empty:
        st.caption("Neither definition would have fired an alert over the stored history.")
    else:
        st.altair_chart(charts.fired_chart(fired_before, fired_after), width="stretch")
        with st.expander("Alerts that would have fired"):
            both = pd.concat(
                [
                    fired_before.assign(definition="current"),
                    fired_after.assign(definition="proposed"),
                ]
            )
            st.dataframe(both, hide_index=True, width="stretch")


def _save(ctx, name: str, edited: dict, base, author: str) -> None:
    reason = st.text_input(
        "Reason for the change (required)", max_chars=REASON_CHARS, key=f"reason::{name}"
    )
    if not st.button(
        f"Save as a new version (after {base.version})", type="primary", key=f"save::{name}"
    ):
        return
    if not reason.strip():
        st.error("Say why: the reason is kept with the version and shown in its history.")
        return
    try:
        version = ctx.store.apply_if_current(name, edited, base.version, author, reason.strip())
    except SloConflictError as conflict:
        _conflict(ctx, name, edited, conflict)
        return
    except SloError as error:
        common.show_error(error)
        return
    st.session_state[f"edit_base::{name}"] = version
    common.bump_generation()
    st.success(f"Saved {name} version {version} by {author}.")


def _conflict(ctx, name: str, edited: dict, conflict: SloConflictError) -> None:
    st.error(str(conflict))
    newest = ctx.store.history(name)[-1]
    st.markdown(
        f"**Current version {newest.version}**, saved by {newest.author} at "
        f"{newest.created_at:%Y-%m-%d %H:%M} UTC: _{newest.reason}_"
    )
    st.code(editing.diff(newest.document, edited, f"version {newest.version}", "yours"), "diff")
    if st.button(f"Start again from version {newest.version}", key=f"restart::{name}"):
        st.session_state[f"edit_base::{name}"] = newest.version
        st.rerun()


def _history(ctx, name: str) -> None:
    versions = ctx.store.history(name)
    table = pd.DataFrame(
        [
            {"version": v.version, "saved at": v.created_at, "author": v.author, "reason": v.reason}
            for v in reversed(versions)
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    numbers = [v.version for v in versions]
    if len(numbers) < 2:
        st.caption("Only one version so far.")
        return
    left, right = st.columns(2)
    old = left.selectbox(
        "Compare version", numbers, index=len(numbers) - 2, key=f"diff_old::{name}"
    )
    new = right.selectbox("with version", numbers, index=len(numbers) - 1, key=f"diff_new::{name}")
    by_number = {v.version: v for v in versions}
    text = editing.diff(
        by_number[old].document, by_number[new].document, f"version {old}", f"version {new}"
    )
    st.code(text or "(no difference)", "diff")


def _last(frame: pd.DataFrame) -> str:
    value = frame["error_budget_remaining"].iloc[-1] if not frame.empty else None
    return "n/a" if value is None or value != value else f"{value:.1%}"


def _delta(before: pd.DataFrame, after: pd.DataFrame) -> str | None:
    if before.empty or after.empty:
        return None
    change = after["error_budget_remaining"].iloc[-1] - before["error_budget_remaining"].iloc[-1]
    return None if change != change else f"{change:+.1%}"
