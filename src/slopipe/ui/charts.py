"""Altair charts of the UI. Time runs along x, thresholds are dashed rules, anomalies are
red points, and each SLO state has one colour everywhere (`data.STATE_COLOURS`)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from slopipe.ui.data import STATE_COLOURS
from slopipe.ui.editing import AlertTier

HEIGHT = 220
THRESHOLD = "#444444"
ANOMALY = "#d62728"
DEFINITIONS = {"current": "#1f77b4", "proposed": "#ff7f0e"}
#: Times in UTC, labelled by day and hour so that every axis reads the same.
TIME_AXIS = alt.Axis(format="%b %d %H:%M", labelAngle=0, tickCount=6, labelOverlap=True)
TIME = alt.X("window_end:T", title=None, axis=TIME_AXIS, scale=alt.Scale(type="utc"))


def _state_scale() -> alt.Scale:
    return alt.Scale(domain=list(STATE_COLOURS), range=list(STATE_COLOURS.values()))


def _rule(value: float, label: str) -> alt.LayerChart:
    frame = pd.DataFrame({"y": [value], "label": [label]})
    base = alt.Chart(frame)
    line = base.mark_rule(strokeDash=[6, 4], color=THRESHOLD).encode(y="y:Q")
    text = base.mark_text(align="left", dx=4, dy=-6, color=THRESHOLD).encode(
        y="y:Q", text="label:N", x=alt.value(0)
    )
    return line + text


def sli_chart(replayed: pd.DataFrame, objective_ratio: float) -> alt.LayerChart:
    """The SLI over time, its points coloured by state, against the objective line."""
    base = alt.Chart(replayed).encode(x=TIME)
    line = base.mark_line(color="#555555").encode(
        y=alt.Y("sli:Q", title="SLI", scale=alt.Scale(zero=False), axis=alt.Axis(format=".2%"))
    )
    points = base.mark_circle(size=28).encode(
        y="sli:Q",
        color=alt.Color("state:N", scale=_state_scale(), title="state"),
        tooltip=[alt.Tooltip("window_end:T", title="window end"), "sli:Q", "state:N"],
    )
    rule = _rule(objective_ratio, f"objective {objective_ratio:.3%}")
    return (line + points + rule).properties(height=HEIGHT, title="SLI against the objective")


def budget_chart(replayed: pd.DataFrame) -> alt.LayerChart:
    """Error budget remaining over time; below the zero line the SLO is breached."""
    base = alt.Chart(replayed).encode(x=TIME)
    area = base.mark_area(opacity=0.25, color=DEFINITIONS["current"]).encode(
        y=alt.Y("error_budget_remaining:Q", title="budget remaining", axis=alt.Axis(format="%"))
    )
    line = base.mark_line(color=DEFINITIONS["current"]).encode(
        y="error_budget_remaining:Q",
        tooltip=[alt.Tooltip("window_end:T", title="window end"), "error_budget_remaining:Q"],
    )
    return (area + line + _rule(0.0, "budget spent")).properties(
        height=HEIGHT, title="Error budget burning down"
    )


def burn_rate_chart(replayed: pd.DataFrame, tier: AlertTier) -> alt.LayerChart:
    """The burn rates over a tier's long and short windows against the tier's threshold."""
    columns = [f"burn_{tier.long_window}", f"burn_{tier.short_window}"]
    present = [c for c in columns if c in replayed]
    long = replayed.melt(["window_end"], present, var_name="window", value_name="burn_rate")
    long["window"] = long["window"].str.removeprefix("burn_")
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=TIME,
            y=alt.Y("burn_rate:Q", title="burn rate"),
            strokeDash=alt.StrokeDash("window:N", title="window"),
            color=alt.value("#9467bd" if tier.severity == "page" else "#17becf"),
            tooltip=["window_end:T", "window:N", alt.Tooltip("burn_rate:Q", format=".2f")],
        )
    )
    rule = _rule(tier.burn_rate, f"{tier.severity} at {tier.burn_rate:g}x")
    return (lines + rule).properties(height=160, title=f"Burn rate, tier {tier.label}")


def series_chart(
    samples: pd.DataFrame, flagged: pd.DataFrame, name: str, threshold: float | None = None
) -> alt.LayerChart:
    """A series (already downsampled for display) with its flagged anomalies as red points
    sized by anomaly score, and feedback shown in the tooltip."""
    line = (
        alt.Chart(samples)
        .mark_line(color="#4c78a8", strokeWidth=1)
        .encode(
            x=alt.X("timestamp:T", title=None, axis=TIME_AXIS, scale=alt.Scale(type="utc")),
            y=alt.Y("value:Q", title=name),
        )
    )
    layers = [line]
    if not flagged.empty:
        marks = flagged.assign(verdict=flagged.get("verdict", "").replace("", "no feedback"))
        layers.append(
            alt.Chart(marks)
            .mark_point(filled=True, color=ANOMALY, opacity=0.8)
            .encode(
                x="timestamp:T",
                y="value:Q",
                size=alt.Size("anomaly_score:Q", legend=None, scale=alt.Scale(range=[15, 90])),
                shape=alt.Shape("verdict:N", title="feedback"),
                tooltip=[
                    "timestamp:T",
                    alt.Tooltip("value:Q", format=".4g"),
                    alt.Tooltip("anomaly_score:Q", format=".3f"),
                    "verdict:N",
                ],
            )
        )
    if threshold is not None:
        layers.append(_rule(threshold, f"threshold {threshold:g}"))
    return alt.layer(*layers).properties(height=HEIGHT, title=f"{name} with flagged anomalies")


def whatif_budget_chart(current: pd.DataFrame, proposed: pd.DataFrame) -> alt.LayerChart:
    """Budget remaining over time under the current and the proposed definition."""
    both = pd.concat(
        [current.assign(definition="current"), proposed.assign(definition="proposed")],
        ignore_index=True,
    )
    scale = alt.Scale(domain=list(DEFINITIONS), range=list(DEFINITIONS.values()))
    lines = (
        alt.Chart(both)
        .mark_line()
        .encode(
            x=TIME,
            y=alt.Y(
                "error_budget_remaining:Q", title="budget remaining", axis=alt.Axis(format="%")
            ),
            color=alt.Color("definition:N", scale=scale, title="definition"),
            tooltip=["definition:N", "window_end:T", "error_budget_remaining:Q"],
        )
    )
    return (lines + _rule(0.0, "budget spent")).properties(
        height=HEIGHT, title="Error budget: current against proposed"
    )


def fired_chart(current: pd.DataFrame, proposed: pd.DataFrame) -> alt.Chart:
    """When each definition's tiers would have fired, as bars along time."""
    both = pd.concat(
        [current.assign(definition="current"), proposed.assign(definition="proposed")],
        ignore_index=True,
    )
    scale = alt.Scale(domain=list(DEFINITIONS), range=list(DEFINITIONS.values()))
    return (
        alt.Chart(both)
        .mark_bar(height=12)
        .encode(
            x=alt.X("starts_at:T", title=None, axis=TIME_AXIS, scale=alt.Scale(type="utc")),
            x2="ends_at:T",
            y=alt.Y("tier:N", title=None, axis=alt.Axis(labelLimit=260)),
            yOffset="definition:N",
            color=alt.Color("definition:N", scale=scale, title="definition"),
            tooltip=["definition:N", "tier:N", "starts_at:T", "ends_at:T", "peak_burn_rate:Q"],
        )
        .properties(title="Alerts that would have fired")
    )


def state_counts_chart(overview: pd.DataFrame) -> alt.Chart:
    """How many SLOs are in each state: one bar per state in its colour."""
    counts = overview["state"].value_counts().rename_axis("state").reset_index(name="slos")
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("slos:Q", title="SLO objectives", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("state:N", title=None, sort=list(STATE_COLOURS)),
            color=alt.Color("state:N", scale=_state_scale(), legend=None),
            tooltip=["state:N", "slos:Q"],
        )
        .properties(height=110)
    )
