"""Models: the registered versions in MLflow, the champion and why, metrics and plots, and
promoting or rolling back with a confirmation and a reason."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from slopipe.errors import RegistryError
from slopipe.ui.views import common

REASON_CHARS = 500


def render(ctx) -> None:
    st.title("Models")
    try:
        versions = _versions(ctx, common.generation(), ctx.key)
    except RegistryError as error:
        common.show_error(error)
        return
    if not versions:
        st.warning("No model is registered yet: `slopipe run` trains and registers one.")
        return
    champion = next((v for v in versions if "champion" in v.aliases), None)
    _champion(champion)
    st.dataframe(_table(versions), hide_index=True, width="stretch")
    numbers = [v.version for v in versions]
    chosen = st.selectbox("Version", numbers, key="models_version")
    version = next(v for v in versions if v.version == chosen)
    _details(ctx, version)
    _actions(ctx, version, champion)


@st.cache_data(ttl=30, show_spinner="Reading the MLflow registry…")
def _versions(_ctx, generation: int, key: str):
    return _ctx.registry.versions()


def _champion(champion) -> None:
    if champion is None:
        st.warning("No champion: nothing scores new data until a version is promoted.")
        return
    why = champion.tags.get("rollback_reason") or champion.tags.get("promotion_reason", "")
    who = champion.tags.get("champion_set_by", "slopipe run")
    st.success(f"**Champion: version {champion.version}**, set by {who}: {why}")


def _table(versions) -> pd.DataFrame:
    rows = []
    for v in versions:
        rows.append(
            {
                "version": v.version,
                "aliases": ", ".join(v.aliases),
                "registered": v.created_at,
                **{k: v.metrics[k] for k in sorted(v.metrics)},
                "validation": v.tags.get("validation", ""),
            }
        )
    return pd.DataFrame(rows)


def _details(ctx, version) -> None:
    left, right = st.columns([1, 2])
    with left:
        st.markdown(f"**Version {version.version}** · run `{version.run_id}`")
        st.json({"metrics": version.metrics, "params": version.params, "tags": version.tags})
    with right:
        plot = _plot(ctx, version)
        if plot:
            st.image(str(plot), caption="Held-out series with the anomalies this version flags")
        else:
            st.caption("This version logged no plot.")


def _plot(ctx, version) -> Path | None:
    folder = Path(tempfile.gettempdir()) / "slopipe-ui-plots" / version.run_id
    found = folder / "series_with_anomalies.png"
    return found if found.is_file() else ctx.registry.plot(version, folder)


def _actions(ctx, version, champion) -> None:
    st.subheader("Change the champion")
    author = common.require_editor("promote or roll back a model")
    if not author:
        return
    if champion is not None and version.version == champion.version:
        st.caption(f"Version {version.version} is the champion; choose another to change it.")
        return
    older = champion is not None and int(version.version) < int(champion.version)
    verb = "Roll back to" if older else "Promote"
    reason = st.text_input(
        f"Why {verb.lower()} version {version.version}? (required)",
        max_chars=REASON_CHARS,
        key="models_reason",
    )
    sure = st.checkbox(
        f"Yes: version {version.version} scores new data from the next run on", key="models_confirm"
    )
    if not st.button(f"{verb} version {version.version}", type="primary", key="models_apply"):
        return
    if not reason.strip() or not sure:
        st.error("Give a reason and tick the confirmation first.")
        return
    try:
        if older:
            ctx.registry.rollback(version.version, reason.strip(), author)
        else:
            ctx.registry.promote(version.version, reason.strip(), author)
    except RegistryError as error:
        common.show_error(error)
        return
    common.bump_generation()
    st.success(f"Version {version.version} is now the champion ({author}: {reason.strip()}).")
    st.rerun()
