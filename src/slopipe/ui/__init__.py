"""The Streamlit UI: watch SLOs, edit them, judge anomalies, manage the champion model.

A shell like `cli`: nothing imports it. Page logic lives in plain modules (`data`,
`replay`, `editing`, `charts`, `auth`) that tests call directly; `views` holds thin pages
and `app.py` is the script `slopipe ui` runs. See docs/ui.md.
"""
