"""The SLO store: SLO definitions with their versions, evaluations, anomalies, feedback on
anomalies, and alerts.

SQLite under the home folder by default; PostgreSQL when `SLOPIPE_DB_URL` names one
(`postgresql+psycopg://user@host/db`). Alembic migrations create and upgrade the schema when
the store is opened. All times are stored in UTC.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from slopipe.errors import SloConflictError, SloError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
metadata = sa.MetaData()
UTC_TIME = sa.DateTime(timezone=True)

slo_versions = sa.Table(
    "slo_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("version", sa.Integer),
    sa.Column("document", sa.Text),
    sa.Column("author", sa.String),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UTC_TIME),
    sa.Column("source_format", sa.String),
)
evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("version", sa.Integer),
    sa.Column("objective", sa.String),
    sa.Column("evaluated_at", UTC_TIME),
    sa.Column("window_start", UTC_TIME),
    sa.Column("window_end", UTC_TIME),
    sa.Column("sli", sa.Float),
    sa.Column("error_budget_remaining", sa.Float),
    sa.Column("state", sa.String),
    sa.Column("details", sa.Text),
    sa.Column("objective_ratio", sa.Float),
    sa.Column("coverage", sa.Float),
)
anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("series", sa.String),
    sa.Column("timestamp", UTC_TIME),
    sa.Column("anomaly_score", sa.Float),
    sa.Column("model_version", sa.String),
    sa.Column("detected_at", UTC_TIME),
    sa.Column("service", sa.String),
    sa.Column("top_metrics", sa.Text),
)
#: A service model's anomalies are stored under `series` = this prefix + the service's name,
#: a key no lake series can take (file stems and Prometheus metric names hold no "/").
SERVICE_KEY_PREFIX = "service/"
#: What an SRE says about a flagged anomaly; `true_positive` means it was a real problem.
VERDICTS = ("true_positive", "false_positive")
anomaly_feedback = sa.Table(
    "anomaly_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("series", sa.String),
    sa.Column("timestamp", UTC_TIME),
    sa.Column("verdict", sa.String),
    sa.Column("comment", sa.Text),
    sa.Column("author", sa.String),
    sa.Column("created_at", UTC_TIME),
)
score_watermarks = sa.Table(
    "score_watermarks",
    metadata,
    sa.Column("series", sa.String, primary_key=True),
    sa.Column("scored_until", UTC_TIME),
)
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String),
    sa.Column("alertname", sa.String),
    sa.Column("severity", sa.String),
    sa.Column("labels", sa.Text),
    sa.Column("annotations", sa.Text),
    sa.Column("starts_at", UTC_TIME),
    sa.Column("ends_at", UTC_TIME),
    sa.Column("status", sa.String),
    sa.Column("attempts", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTC_TIME),
    sa.Column("updated_at", UTC_TIME),
    sa.Column("identity", sa.String),
    sa.Column("state", sa.String),
    sa.Column("next_attempt_at", UTC_TIME),
    sa.Column("posted_at", UTC_TIME),
)
monitor_state = sa.Table(
    "monitor_state",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("updated_at", UTC_TIME),
)
score_log = sa.Table(
    "score_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("series", sa.String),
    sa.Column("scored_after", UTC_TIME),
    sa.Column("scored_until", UTC_TIME),
    sa.Column("samples", sa.Integer),
    sa.Column("model_version", sa.String),
    sa.Column("scored_at", UTC_TIME),
)


def utc(value: datetime | pd.Timestamp | None) -> datetime | None:
    """A timezone-aware UTC datetime (SQLite hands back naive ones)."""
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


@dataclass(frozen=True)
class StoredSlo:
    name: str
    version: int
    document: dict
    author: str
    reason: str
    created_at: datetime
    source_format: str = "openslo"


class SloStore:
    """Connection to the SLO store; opening it brings the schema up to date."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, future=True)
            with self.engine.begin() as connection:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as err:
            raise SloError(f"SLO store {_safe(url)}: {_first_line(err)}") from None
        except ModuleNotFoundError as err:
            raise SloError(f"SLO store {_safe(url)}: driver missing: {err.name}") from None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One atomic unit of writes: all of it is stored, or none."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as err:
            raise SloError(f"SLO store {_safe(self.url)}: {_first_line(err)}") from None

    # -- definitions -------------------------------------------------------------------------

    def apply(
        self,
        documents: Iterable[tuple[str, dict]],
        author: str,
        reason: str,
        source_format: str = "openslo",
        now: datetime | None = None,
    ) -> list[tuple[str, int, bool]]:
        """Store each (name, OpenSLO document); a changed document becomes a new version.

        Returns (name, version, changed) per document. All of them are stored, or none.
        """
        now = now or datetime.now(UTC)
        results = []
        with self.transaction() as tx:
            for name, document in documents:
                current = self._latest(tx, name)
                if current and current.document == document:
                    results.append((name, current.version, False))
                    continue
                version = current.version + 1 if current else 1
                tx.execute(
                    slo_versions.insert().values(
                        name=name,
                        version=version,
                        document=json.dumps(document, sort_keys=True),
                        author=author,
                        reason=reason,
                        created_at=now,
                        source_format=source_format,
                    )
                )
                results.append((name, version, True))
        return results

    def apply_if_current(
        self, name: str, document: dict, based_on_version: int, author: str, reason: str
    ) -> int:
        """Store `document` as the next version of SLO `name`, only if `based_on_version` is
        still its newest version; return the new version.

        Raises `SloConflictError` (naming the current version) when someone saved another
        version since, so two editors never overwrite each other. The check and the insert
        are one transaction, and the unique (name, version) key refuses a racing twin.
        """
        try:
            with self.engine.begin() as tx:
                current = self._latest(tx, name)
                if current is None:
                    raise SloError(f"slo {name}: not in the SLO store; nothing to edit")
                if current.version != based_on_version:
                    raise SloConflictError(name, based_on_version, current.version)
                tx.execute(
                    slo_versions.insert().values(
                        name=name,
                        version=current.version + 1,
                        document=json.dumps(document, sort_keys=True),
                        author=author,
                        reason=reason,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            newest = self.history(name)[-1].version
            raise SloConflictError(name, based_on_version, newest) from None
        except SQLAlchemyError as err:
            raise SloError(f"SLO store {_safe(self.url)}: {_first_line(err)}") from None
        log.info("slo %s: version %d saved by %s", name, current.version + 1, author)
        return current.version + 1

    def _latest(self, tx: sa.Connection, name: str) -> StoredSlo | None:
        row = tx.execute(
            sa.select(slo_versions)
            .where(slo_versions.c.name == name)
            .order_by(slo_versions.c.version.desc())
            .limit(1)
        ).first()
        return _stored(row) if row else None

    def current(self) -> list[StoredSlo]:
        """The newest version of every SLO, by name."""
        newest = (
            sa.select(slo_versions.c.name, sa.func.max(slo_versions.c.version).label("v"))
            .group_by(slo_versions.c.name)
            .subquery()
        )
        query = (
            sa.select(slo_versions)
            .join(
                newest,
                (slo_versions.c.name == newest.c.name) & (slo_versions.c.version == newest.c.v),
            )
            .order_by(slo_versions.c.name)
        )
        with self.transaction() as tx:
            return [_stored(row) for row in tx.execute(query)]

    def history(self, name: str) -> list[StoredSlo]:
        """Every version of one SLO, oldest first."""
        query = (
            sa.select(slo_versions)
            .where(slo_versions.c.name == name)
            .order_by(slo_versions.c.version)
        )
        with self.transaction() as tx:
            return [_stored(row) for row in tx.execute(query)]

    def versions(self) -> dict[str, list[StoredSlo]]:
        """Every version of every SLO, by name, oldest first (one query)."""
        query = sa.select(slo_versions).order_by(slo_versions.c.name, slo_versions.c.version)
        found: dict[str, list[StoredSlo]] = {}
        with self.transaction() as tx:
            for row in tx.execute(query):
                found.setdefault(row.name, []).append(_stored(row))
        return found

    # -- evaluations, anomalies, watermarks --------------------------------------------------

    def evaluations(self, name: str | None = None) -> pd.DataFrame:
        """Stored evaluations (each names the SLO version it used), oldest first."""
        query = sa.select(evaluations).order_by(evaluations.c.id)
        if name is not None:
            query = query.where(evaluations.c.name == name)
        with self.transaction() as tx:
            return pd.DataFrame(tx.execute(query).mappings().all())

    def record_evaluations(self, rows: list[dict]) -> None:
        if rows:
            with self.transaction() as tx:
                tx.execute(evaluations.insert(), rows)

    def watermarks(self) -> dict[str, datetime]:
        with self.transaction() as tx:
            rows = tx.execute(sa.select(score_watermarks)).all()
        return {row.series: utc(row.scored_until) for row in rows}

    def record_scores(
        self,
        found: pd.DataFrame,
        model_version: str,
        scored_until: dict[str, datetime],
        log_rows: list[dict] | None = None,
    ) -> int:
        """Store new anomalies and move the scoring watermarks, atomically.

        `found` has series, timestamp and anomaly_score; `log_rows` (series, scored_after,
        scored_until, samples) go to `score_log` in the same transaction. Returns how many
        anomalies were new.
        """
        now = datetime.now(UTC)
        known = self._known_anomalies(found)
        fresh = [
            {
                "series": row.series,
                "timestamp": utc(row.timestamp),
                "anomaly_score": float(row.anomaly_score),
                "model_version": model_version,
                "detected_at": now,
            }
            for row in found.itertuples()
            if (row.series, utc(row.timestamp)) not in known
        ]
        with self.transaction() as tx:
            if fresh:
                tx.execute(anomalies.insert(), fresh)
            if log_rows:
                rows = [{**r, "model_version": model_version, "scored_at": now} for r in log_rows]
                tx.execute(score_log.insert(), rows)
            for series, until in scored_until.items():
                tx.execute(score_watermarks.delete().where(score_watermarks.c.series == series))
                tx.execute(score_watermarks.insert().values(series=series, scored_until=utc(until)))
        return len(fresh)

    def get_state(self, key: str) -> str | None:
        """A monitor fact kept across restarts (see `set_state`), or None."""
        query = sa.select(monitor_state.c.value).where(monitor_state.c.key == key)
        with self.transaction() as tx:
            return tx.execute(query).scalar_one_or_none()

    def set_state(self, values: dict[str, str]) -> None:
        now = datetime.now(UTC)
        with self.transaction() as tx:
            for key, value in values.items():
                tx.execute(monitor_state.delete().where(monitor_state.c.key == key))
                tx.execute(monitor_state.insert().values(key=key, value=value, updated_at=now))

    def score_log(self) -> pd.DataFrame:
        with self.transaction() as tx:
            frame = pd.DataFrame(tx.execute(sa.select(score_log)).mappings().all())
        for column in ("scored_after", "scored_until"):
            if not frame.empty:
                frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def _known_anomalies(self, found: pd.DataFrame) -> set[tuple[str, datetime]]:
        if found.empty:
            return set()
        query = sa.select(anomalies.c.series, anomalies.c.timestamp).where(
            anomalies.c.series.in_(sorted(found["series"].unique()))
        )
        with self.transaction() as tx:
            return {(row.series, utc(row.timestamp)) for row in tx.execute(query)}

    def anomalies(self, series: str | None = None, since: datetime | None = None) -> pd.DataFrame:
        """Stored anomalies of the per-series model, of one series and after `since` when given.

        Service models' anomalies are left out: `service_anomalies` gives them.
        """
        query = (
            sa.select(anomalies)
            .where(anomalies.c.service.is_(None))
            .order_by(anomalies.c.series, anomalies.c.timestamp)
        )
        if series is not None:
            query = query.where(anomalies.c.series == series)
        if since is not None:
            query = query.where(anomalies.c.timestamp > utc(since))
        with self.transaction() as tx:
            frame = pd.DataFrame(tx.execute(query).mappings().all())
        if not frame.empty:
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame

    def record_service_scores(
        self, service: str, found: pd.DataFrame, model_version: str, scored_until: datetime
    ) -> int:
        """Store a service model's new anomalies and move its watermark, atomically.

        `found` has timestamp, anomaly_score and top_metrics (list of series, most to blame
        first). The watermark is kept under the service's key (`service_key`). Returns how
        many anomalies were new.
        """
        key = service_key(service)
        known = self._known_anomalies(found.assign(series=key))
        now = datetime.now(UTC)
        fresh = [
            {
                "series": key,
                "timestamp": utc(row.timestamp),
                "anomaly_score": float(row.anomaly_score),
                "model_version": model_version,
                "detected_at": now,
                "service": service,
                "top_metrics": json.dumps(list(row.top_metrics)),
            }
            for row in found.itertuples()
            if (key, utc(row.timestamp)) not in known
        ]
        with self.transaction() as tx:
            if fresh:
                tx.execute(anomalies.insert(), fresh)
            tx.execute(score_watermarks.delete().where(score_watermarks.c.series == key))
            tx.execute(score_watermarks.insert().values(series=key, scored_until=utc(scored_until)))
        return len(fresh)

    def service_anomalies(self, service: str | None = None) -> pd.DataFrame:
        """Stored anomalies of service models (of one service when given), oldest first:
        service, timestamp, anomaly_score, top_metrics (a list), model_version, detected_at."""
        columns = ["service", "timestamp", "anomaly_score", "top_metrics", "model_version"]
        columns.append("detected_at")
        query = (
            sa.select(*(anomalies.c[c] for c in columns))
            .where(anomalies.c.service.is_not(None))
            .order_by(anomalies.c.timestamp, anomalies.c.service)
        )
        if service is not None:
            query = query.where(anomalies.c.service == service)
        with self.transaction() as tx:
            frame = pd.DataFrame(tx.execute(query).mappings().all(), columns=columns)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame["top_metrics"] = frame["top_metrics"].map(json.loads)
        return frame

    # -- feedback on anomalies -------------------------------------------------------------

    def record_feedback(
        self,
        series: str,
        timestamps: datetime | Iterable[datetime],
        verdict: str,
        comment: str,
        author: str,
    ) -> int:
        """Say whether the anomalies flagged on `series` at `timestamps` (one, or all of an
        episode) were a real problem; all are stored, or none. Returns how many."""
        if verdict not in VERDICTS:
            raise SloError(f"feedback verdict {verdict!r}: use one of {', '.join(VERDICTS)}")
        stamps = [timestamps] if isinstance(timestamps, datetime) else list(timestamps)
        now = datetime.now(UTC)
        rows = [
            {
                "series": series,
                "timestamp": utc(stamp),
                "verdict": verdict,
                "comment": comment,
                "author": author,
                "created_at": now,
            }
            for stamp in stamps
        ]
        if rows:
            with self.transaction() as tx:
                tx.execute(anomaly_feedback.insert(), rows)
        return len(rows)

    def feedback(self, latest_only: bool = True) -> pd.DataFrame:
        """Feedback as labels: series, timestamp, verdict, comment, author, created_at.

        With `latest_only`, one row per (series, timestamp): the newest verdict, which is
        the label `slopipe evaluate` and the validation gate should use (true_positive: the
        model was right to flag it; false_positive: it should not have).
        """
        query = sa.select(anomaly_feedback).order_by(
            anomaly_feedback.c.series, anomaly_feedback.c.timestamp, anomaly_feedback.c.id
        )
        with self.transaction() as tx:
            frame = pd.DataFrame(tx.execute(query).mappings().all(), columns=FEEDBACK_COLUMNS)
        frame = frame.drop(columns="id")
        for column in ("timestamp", "created_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        if latest_only:
            frame = frame.drop_duplicates(["series", "timestamp"], keep="last")
        return frame.reset_index(drop=True)

    def count(self, table: str) -> int:
        with self.transaction() as tx:
            return tx.execute(
                sa.select(sa.func.count()).select_from(metadata.tables[table])
            ).scalar_one()


def service_key(service: str) -> str:
    """The `series` under which a service's anomalies and watermark are stored."""
    return SERVICE_KEY_PREFIX + service


FEEDBACK_COLUMNS = ["id", "series", "timestamp", "verdict", "comment", "author", "created_at"]


def _stored(row: sa.Row) -> StoredSlo:
    return StoredSlo(
        name=row.name,
        version=row.version,
        document=json.loads(row.document),
        author=row.author,
        reason=row.reason,
        created_at=utc(row.created_at),
        source_format=row.source_format or "openslo",
    )


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given, minus nothing
        return url.split("@")[-1]


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]
