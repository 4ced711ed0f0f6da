"""What the UI pages show, as plain frames: queries over the SLO store and the lake.

No Streamlit here, so every function can be tested alone. Values typed by a user only ever
filter frames in memory or go to the store as bound parameters.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from slopipe.slo.model import RatioIndicator, SloDefinition, ThresholdIndicator
from slopipe.slo.openslo import parse_slo
from slopipe.slo.store import SloStore, StoredSlo, alerts, evaluations, utc

#: States in the order an SRE wants to see them, with one colour each on every page.
STATE_COLOURS = {
    "breached": "#d62728",
    "insufficient_data": "#ff9f1c",
    "no_data": "#8c8c8c",
    "ok": "#2ca02c",
}
SERVICE_ALERT = "ServiceAnomalyDetected"
#: Anomalies closer than this are one episode (the alert stage groups them the same way).
EPISODE_GAP = timedelta(minutes=30)
BURN_COLUMNS = ["burn_5m", "burn_1h", "burn_6h", "burn_3d"]
OVERVIEW_COLUMNS = [
    "name",
    "service",
    "labels",
    "objective",
    "objective_ratio",
    "sli_kind",
    "sli",
    "error_budget_remaining",
    *BURN_COLUMNS,
    "coverage",
    "state",
    "version",
    "evaluated_at",
]


def describe_sli(definition: SloDefinition) -> str:
    """One line saying what the SLI measures, e.g. `bad/total: errors / requests`."""
    indicator = definition.indicator
    if isinstance(indicator, RatioIndicator):
        part = indicator.good or indicator.bad
        kind = "good" if indicator.good else "bad"
        return f"{kind}/total: {part.describe()} / {indicator.total.describe()}"
    if isinstance(indicator, ThresholdIndicator):
        objective = definition.objectives[0]
        return f"{indicator.source.describe()} {objective.op} {objective.threshold:g}"
    return ""


def overview(store: SloStore) -> pd.DataFrame:
    """Every current SLO objective with its newest evaluation, least budget left first.

    An SLO never evaluated shows state `no_data`.
    """
    latest = _latest_evaluations(store)
    rows = []
    for stored in store.current():
        definition = parse_slo(stored.document, where=f"stored SLO {stored.name}")
        for objective in definition.objectives:
            found = latest.get((stored.name, objective.name), {})
            rows.append(_overview_row(stored, definition, objective, found))
    frame = pd.DataFrame(rows, columns=OVERVIEW_COLUMNS)
    return sort_by_budget(frame)


def sort_by_budget(frame: pd.DataFrame) -> pd.DataFrame:
    """Least error budget remaining first; SLOs without a number last, then by name."""
    return frame.sort_values(
        ["error_budget_remaining", "name"], na_position="last", ignore_index=True
    )


def _overview_row(stored: StoredSlo, definition, objective, found: dict) -> dict:
    burn = found.get("burn_rates") or {}
    return {
        "name": stored.name,
        "service": definition.service,
        "labels": ", ".join(f"{k}={v}" for k, v in sorted(definition.labels.items())),
        "objective": objective.name,
        "objective_ratio": objective.objective_ratio,
        "sli_kind": describe_sli(definition),
        "sli": found.get("sli"),
        "error_budget_remaining": found.get("error_budget_remaining"),
        **{c: burn.get(c.removeprefix("burn_")) for c in BURN_COLUMNS},
        "coverage": found.get("coverage"),
        "state": found.get("state", "no_data"),
        "version": stored.version,
        "evaluated_at": found.get("evaluated_at"),
    }


def _latest_evaluations(store: SloStore) -> dict[tuple[str, str], dict]:
    newest = (
        sa.select(sa.func.max(evaluations.c.id))
        .group_by(evaluations.c.name, evaluations.c.objective)
        .scalar_subquery()
    )
    query = sa.select(evaluations).where(evaluations.c.id.in_(newest))
    with store.transaction() as tx:
        rows = tx.execute(query).mappings().all()
    found = {}
    for row in rows:
        details = json.loads(row["details"])
        details.update(
            {k: row[k] for k in ("sli", "error_budget_remaining", "state", "evaluated_at")}
        )
        found[(row["name"], row["objective"])] = details
    return found


def filter_overview(
    frame: pd.DataFrame,
    services: list[str] | None = None,
    label: str = "",
    search: str = "",
    states: list[str] | None = None,
) -> pd.DataFrame:
    """Rows of the chosen services and states whose labels hold `label` and whose name,
    service or objective holds `search` (plain substrings, case-insensitive)."""
    keep = pd.Series(True, index=frame.index)
    if services:
        keep &= frame["service"].isin(services)
    if states:
        keep &= frame["state"].isin(states)
    if label.strip():
        keep &= frame["labels"].str.contains(label.strip(), case=False, regex=False)
    if search.strip():
        text = frame["name"] + " " + frame["service"] + " " + frame["objective"]
        keep &= text.str.contains(search.strip(), case=False, regex=False)
    return frame[keep].reset_index(drop=True)


def page(frame: pd.DataFrame, number: int, size: int) -> pd.DataFrame:
    """Page `number` (from 1) of `size` rows."""
    start = (max(number, 1) - 1) * size
    return frame.iloc[start : start + size]


def page_count(rows: int, size: int) -> int:
    return max(1, -(-rows // size))


def lake_series(definition: SloDefinition) -> list[str]:
    return [s.series for s in definition.sources() if s.type == "lake" and s.series]


def downsample(frame: pd.DataFrame, max_points: int = 1500) -> pd.DataFrame:
    """For display only: at most about `max_points` rows of timestamp and value, keeping
    each bucket's minimum and maximum so spikes stay visible."""
    if len(frame) <= max_points:
        return frame[["timestamp", "value"]].reset_index(drop=True)
    buckets = np.arange(len(frame)) // max(1, (2 * len(frame)) // max_points)
    keep = set()
    values = frame["value"].reset_index(drop=True)
    for idx in values.groupby(buckets).agg(["idxmin", "idxmax"]).to_numpy().ravel():
        keep.add(int(idx))
    return frame.iloc[sorted(keep)][["timestamp", "value"]].reset_index(drop=True)


def alert_history(store: SloStore, name: str, series: list[str], service: str = "") -> pd.DataFrame:
    """Alerts about the SLO, about anomalies on its series, or about its service's model
    (`ServiceAnomalyDetected` of `service`), newest first."""
    with store.transaction() as tx:
        rows = tx.execute(sa.select(alerts).order_by(alerts.c.starts_at.desc())).mappings().all()
    found = []
    for row in rows:
        labels = json.loads(row["labels"])
        of_service = labels.get("alertname") == SERVICE_ALERT and labels.get("service") == service
        if labels.get("slo") == name or labels.get("series") in series or of_service:
            annotations = json.loads(row["annotations"])
            found.append(
                {
                    "starts_at": pd.Timestamp(utc(row["starts_at"])),
                    "ends_at": pd.Timestamp(utc(row["ends_at"])) if row["ends_at"] else pd.NaT,
                    "alert": row["alertname"],
                    "severity": row["severity"],
                    "summary": annotations.get("summary", ""),
                    "status": row["status"],
                }
            )
    columns = ["starts_at", "ends_at", "alert", "severity", "summary", "status"]
    return pd.DataFrame(found, columns=columns)


def service_anomalies(store: SloStore, service: str) -> pd.DataFrame:
    """A service model's flagged steps, newest first: timestamp, anomaly_score, top_metrics
    (the series most to blame, first the most, as one string), model_version."""
    found = store.service_anomalies(service).sort_values("timestamp", ascending=False)
    found["top_metrics"] = found["top_metrics"].map(", ".join)
    columns = ["timestamp", "anomaly_score", "top_metrics", "model_version"]
    return found[columns].reset_index(drop=True)


def anomalies_with_feedback(store: SloStore, series: list[str] | None = None) -> pd.DataFrame:
    """Flagged anomalies with their newest feedback: series, timestamp, anomaly_score,
    model_version, verdict, comment, author (verdict empty when no one said yet)."""
    found = store.anomalies()
    columns = ["series", "timestamp", "anomaly_score", "model_version"]
    found = (found[columns] if not found.empty else pd.DataFrame(columns=columns)).copy()
    if series is not None:
        found = found[found["series"].isin(series)]
    said = store.feedback()[["series", "timestamp", "verdict", "comment", "author"]]
    for frame in (found, said):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("us")
    merged = found.merge(said, on=["series", "timestamp"], how="left")
    merged[["verdict", "comment", "author"]] = merged[["verdict", "comment", "author"]].fillna("")
    return merged.sort_values("timestamp", ascending=False, ignore_index=True)


def episode(flagged: pd.DataFrame, series: str, timestamp, gap=EPISODE_GAP) -> pd.DataFrame:
    """The anomalies of `series` in the same episode as the one at `timestamp`: flags less
    than `gap` apart belong together, as in the alerts that `slopipe run` raises."""
    mine = flagged[flagged["series"] == series].sort_values("timestamp")
    number = (mine["timestamp"].diff() > gap).cumsum()
    at = number[mine["timestamp"] == pd.Timestamp(timestamp)]
    return mine[number == at.iloc[0]] if not at.empty else mine.iloc[0:0]


def feedback_export(store: SloStore, fmt: str) -> str:
    """All feedback (every verdict, oldest first) as CSV or JSON text."""
    frame = store.feedback(latest_only=False)
    for column in ("timestamp", "created_at"):
        frame[column] = frame[column].map(lambda t: t.isoformat() if pd.notna(t) else None)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return json.dumps(frame.to_dict(orient="records"), indent=2)
    raise ValueError(f"format {fmt!r}: use csv or json")
