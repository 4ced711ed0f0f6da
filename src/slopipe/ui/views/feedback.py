"""Feedback: mark each flagged anomaly a true or a false positive, with a comment; export."""

from __future__ import annotations

import streamlit as st

from slopipe.errors import SloError
from slopipe.slo.store import VERDICTS
from slopipe.ui import data
from slopipe.ui.views import common

COMMENT_CHARS = 2000
PAGE_SIZE = 50
VERDICT_LABELS = {
    "true_positive": "✅ true positive: a real problem",
    "false_positive": "❌ false positive: not a problem",
}


def render(ctx) -> None:
    st.title("Feedback on anomalies")
    flagged = data.anomalies_with_feedback(ctx.store)
    if flagged.empty:
        st.info("No anomaly has been flagged yet.")
        return
    shown = _filtered(flagged)
    _mark(ctx, shown)
    pages = data.page_count(len(shown), PAGE_SIZE)
    number = st.number_input(f"Page (of {pages})", 1, pages, 1, key="feedback_page")
    st.dataframe(data.page(shown, int(number), PAGE_SIZE), hide_index=True, width="stretch")
    _export(ctx)


def _filtered(flagged):
    a, b = st.columns(2)
    series = a.multiselect("Series", sorted(flagged["series"].unique()), key="feedback_series")
    status = b.radio(
        "Show", ["all", "without feedback", "with feedback"], horizontal=True, key="feedback_show"
    )
    if series:
        flagged = flagged[flagged["series"].isin(series)]
    if status == "without feedback":
        flagged = flagged[flagged["verdict"] == ""]
    elif status == "with feedback":
        flagged = flagged[flagged["verdict"] != ""]
    st.caption(f"{len(flagged)} flagged anomalies, newest first.")
    return flagged.reset_index(drop=True)


def _mark(ctx, shown) -> None:
    st.subheader("Mark an anomaly")
    author = common.require_editor("give feedback")
    if not author or shown.empty:
        return
    options = list(shown.index)  # the select box can be searched by typing
    chosen = st.selectbox(
        "Anomaly",
        options,
        format_func=lambda i: _label(shown.loc[i]),
        key="feedback_anomaly",
    )
    row = shown.loc[chosen]
    same = data.episode(shown, row["series"], row["timestamp"])
    with st.form("feedback_form", clear_on_submit=True):
        whole = st.checkbox(
            f"The whole episode: {len(same)} anomalies on {row['series']} from "
            f"{same['timestamp'].min():%Y-%m-%d %H:%M} to {same['timestamp'].max():%H:%M}",
            value=len(same) > 1,
            key=f"feedback_episode::{chosen}",
        )
        verdict = st.radio(
            "Verdict", VERDICTS, format_func=VERDICT_LABELS.get, key="feedback_verdict"
        )
        comment = st.text_area("Comment", max_chars=COMMENT_CHARS, key="feedback_comment")
        if not st.form_submit_button("Save feedback", type="primary"):
            return
    try:
        stamps = same["timestamp"] if whole else [row["timestamp"]]
        count = ctx.store.record_feedback(
            row["series"], [t.to_pydatetime() for t in stamps], verdict, comment.strip(), author
        )
    except SloError as error:
        common.show_error(error)
        return
    common.bump_generation()
    st.success(
        f"Saved: {count} anomal{'y' if count == 1 else 'ies'} on {row['series']} from "
        f"{row['timestamp']:%Y-%m-%d %H:%M} marked {verdict.replace('_', ' ')} by {author}."
    )


def _label(row) -> str:
    said = f" · {row['verdict'].replace('_', ' ')}" if row["verdict"] else ""
    when = f"{row['timestamp']:%Y-%m-%d %H:%M} UTC"
    return f"{row['series']} at {when} (score {row['anomaly_score']:.3f}){said}"


def _export(ctx) -> None:
    st.subheader("Export")
    st.caption("Every verdict ever given, oldest first; also `slopipe feedback export`.")
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        data.feedback_export(ctx.store, "csv"),
        "feedback.csv",
        "text/csv",
        key="export_csv",
    )
    right.download_button(
        "Download JSON",
        data.feedback_export(ctx.store, "json"),
        "feedback.json",
        "application/json",
        key="export_json",
    )
