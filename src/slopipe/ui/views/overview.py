"""Overview: every SLO objective with its state, least error budget remaining first."""

from __future__ import annotations

import streamlit as st

from slopipe.ui import charts, data
from slopipe.ui.views import common

PAGE_SIZES = (25, 50, 100)
#: Streamlit's markdown colours nearest to `data.STATE_COLOURS`.
STATE_MARKDOWN = {
    "breached": "red",
    "insufficient_data": "orange",
    "no_data": "gray",
    "ok": "green",
}


def render(ctx) -> None:
    st.title("SLO overview")
    rows = common.overview_rows(ctx, common.generation(), ctx.key)
    if rows.empty:
        st.warning("The SLO store holds no SLO yet: run `slopipe run --slos FILE` first.")
        return
    _headline(rows)
    shown = _filtered(rows)
    size = st.session_state.get("overview_page_size", PAGE_SIZES[0])
    pages = data.page_count(len(shown), size)
    left, right = st.columns([1, 1])
    number = left.number_input(f"Page (of {pages})", 1, pages, 1, key="overview_page")
    right.selectbox("Rows per page", PAGE_SIZES, key="overview_page_size")
    st.caption(f"{len(shown)} of {len(rows)} SLO objectives, least budget remaining first.")
    on_page = data.page(shown, int(number), size)
    _table(on_page)
    _open(sorted(on_page["name"].unique()))


def _headline(rows) -> None:
    counts = rows["state"].value_counts()
    columns = st.columns([1, 1, 1, 1, 3])
    for column, state in zip(columns, data.STATE_COLOURS, strict=False):
        label = f":{STATE_MARKDOWN[state]}[**{state.replace('_', ' ')}**]"
        column.metric(label, int(counts.get(state, 0)))
    columns[4].altair_chart(charts.state_counts_chart(rows), width="stretch")


def _filtered(rows):
    services = sorted(s for s in rows["service"].unique() if s)
    a, b, c, d = st.columns([2, 2, 2, 2])
    chosen = a.multiselect("Service", services, key="overview_services")
    states = b.multiselect("State", list(data.STATE_COLOURS), key="overview_states")
    label = c.text_input("Label contains", max_chars=200, key="overview_label")
    search = d.text_input("Search name", max_chars=200, key="overview_search")
    return data.filter_overview(rows, chosen, label, search, states)


def _table(rows) -> None:
    shown = rows.assign(
        objective_percent=rows["objective_ratio"] * 100,
        sli_percent=rows["sli"] * 100,
        budget_percent=rows["error_budget_remaining"] * 100,
        coverage_percent=rows["coverage"] * 100,
    )
    colour = {s: f"color: {c}; font-weight: bold" for s, c in data.STATE_COLOURS.items()}
    st.dataframe(
        shown.style.map(lambda s: colour.get(s, ""), subset=["state"]),
        hide_index=True,
        width="stretch",
        column_order=[
            "state",
            "name",
            "service",
            "objective",
            "objective_percent",
            "sli_percent",
            "budget_percent",
            *data.BURN_COLUMNS,
            "coverage_percent",
            "sli_kind",
            "labels",
            "version",
        ],
        column_config={
            "name": st.column_config.TextColumn("SLO"),
            "objective_percent": st.column_config.NumberColumn("objective", format="%.3f%%"),
            "sli_percent": st.column_config.NumberColumn("SLI", format="%.3f%%"),
            "budget_percent": st.column_config.ProgressColumn(
                "budget left", format="%.1f%%", min_value=-100, max_value=100
            ),
            **{
                c: st.column_config.NumberColumn(c.replace("_", " "), format="%.2f")
                for c in data.BURN_COLUMNS
            },
            "coverage_percent": st.column_config.NumberColumn("coverage", format="%.1f%%"),
            "sli_kind": st.column_config.TextColumn("measures"),
        },
    )


def _open(names: list[str]) -> None:
    """Go from a row to its detail or edit page."""
    if not names:
        return
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = left.selectbox("Open an SLO of this page", names, key="overview_open")
    middle.button("Detail", on_click=_go, args=("detail", name), key="overview_detail")
    right.button("Edit", on_click=_go, args=("edit", name), key="overview_edit")


def _go(page: str, name: str) -> None:
    st.session_state["page"], st.session_state["slo"] = page, name
