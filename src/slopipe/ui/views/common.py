"""What several pages share: the context, the signed-in editor, the chosen SLO, caches."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from slopipe.config import Settings, load_settings
from slopipe.errors import SlopipeError
from slopipe.slo.openslo import parse_slo
from slopipe.ui import auth, data, replay
from slopipe.ui.context import Context

REPLAY_POINTS = 60


def context() -> Context:
    """The context of the settings in force (read on every run; opened once per settings)."""
    return _open(load_settings().model_dump_json())


@st.cache_resource(show_spinner="Opening the SLO store and the lake…")
def _open(settings_json: str) -> Context:
    return Context.open(Settings.model_validate_json(settings_json))


def editor() -> str | None:
    """The signed-in editor's name, or None for a viewer."""
    return st.session_state.get("editor")


def sidebar_sign_in(ctx: Context) -> None:
    with st.sidebar:
        st.markdown("### slopipe")
        if editor():
            st.success(f"Signed in as **{editor()}** (editor)")
            if st.button("Sign out", key="sign_out"):
                del st.session_state["editor"]
                st.rerun()
            return
        st.caption("Viewing. Sign in as an editor to change SLOs, models and feedback.")
        if not ctx.settings.ui_editors:
            st.caption("No editors are configured (`ui_editors` in the settings).")
            return
        with st.form("sign_in", border=False):
            name = st.text_input("Editor name", max_chars=64, key="sign_in_name")
            password = st.text_input("Password", type="password", key="sign_in_password")
            if st.form_submit_button("Sign in"):
                found = auth.authenticate(ctx.settings.ui_editors, name, password)
                if found:
                    st.session_state["editor"] = found
                    st.rerun()
                st.error("Unknown editor or wrong password.")


def require_editor(action: str) -> str | None:
    """The editor's name, or an info box saying that `action` needs one."""
    if not editor():
        st.info(f"Viewers can look; sign in as an editor (sidebar) to {action}.")
    return editor()


def choose_slo(ctx: Context, names: list[str], key: str) -> str | None:
    """A select box of SLO names that remembers the choice across pages."""
    if not names:
        st.warning("The SLO store holds no SLO yet: run `slopipe run --slos FILE` first.")
        return None
    chosen = st.session_state.get("slo")
    index = names.index(chosen) if chosen in names else 0
    name = st.selectbox("SLO", names, index=index, key=key)
    st.session_state["slo"] = name
    return name


def show_error(error: SlopipeError) -> None:
    st.error(str(error))


@st.cache_data(ttl=30, show_spinner=False)
def overview_rows(_ctx: Context, generation: int, key: str = "") -> pd.DataFrame:
    return data.overview(_ctx.store)


@st.cache_data(ttl=600, show_spinner="Replaying the stored history…", max_entries=64)
def replayed(_ctx: Context, document_json: str, ends: tuple, key: str = "") -> pd.DataFrame:
    """The SLO of this document replayed at `ends` (cached by document and points)."""
    import json

    definition = parse_slo(json.loads(document_json))
    return replay.replay(definition, _ctx.sources, pd.DatetimeIndex(ends))


def replay_ends(ctx: Context, definition) -> tuple | None:
    bounds = ctx.history_bounds(data.lake_series(definition))
    if bounds is None:
        return None
    ends = replay.replay_ends(*bounds, definition.window.duration, REPLAY_POINTS)
    return tuple(ends) if len(ends) else None


def generation() -> int:
    """Bumped after every write, so cached reads of the store are refreshed."""
    return st.session_state.get("generation", 0)


def bump_generation() -> None:
    st.session_state["generation"] = generation() + 1
