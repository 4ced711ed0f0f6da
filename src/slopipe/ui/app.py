"""The slopipe UI, a Streamlit app: `slopipe ui` runs this file.

Pages are in `slopipe.ui.views`; each is a thin `render(ctx)` over the plain functions of
`slopipe.ui.data`, `replay`, `editing` and `charts`. The page and SLO shown can be named in
the URL: `?page=detail&slo=checkout-latency`.
"""

from __future__ import annotations

import streamlit as st

from slopipe.ui.views import common, detail, edit, feedback, models, overview

PAGES = {
    "overview": ("Overview", overview.render),
    "detail": ("SLO detail", detail.render),
    "edit": ("Edit SLO", edit.render),
    "models": ("Models", models.render),
    "feedback": ("Feedback", feedback.render),
}

st.set_page_config(page_title="slopipe", page_icon="📉", layout="wide")
ctx = common.context()
common.sidebar_sign_in(ctx)
if "page" not in st.session_state:
    wanted = st.query_params.get("page", "overview")
    st.session_state["page"] = wanted if wanted in PAGES else "overview"
    if "slo" in st.query_params:
        st.session_state["slo"] = st.query_params["slo"]
page = st.sidebar.radio("Page", list(PAGES), format_func=lambda key: PAGES[key][0], key="page")
st.query_params["page"] = page
PAGES[page][1](ctx)
