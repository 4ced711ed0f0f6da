"""The alert outbox in the SLO store: alerts are kept before they are sent, never dropped.

`enqueue` stores new alerts as pending (a known fingerprint is not stored twice). `deliver`
posts pending alerts to Alertmanager and marks them sent; when Alertmanager cannot be reached
they stay pending, with the error and the attempt counted, for the next run.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import sqlalchemy as sa

from slopipe.alert.alertmanager import Alertmanager
from slopipe.alert.rules import Alert
from slopipe.errors import AlertError
from slopipe.slo.store import SloStore, alerts, utc

log = logging.getLogger(__name__)


def enqueue(store: SloStore, new: list[Alert]) -> int:
    """Store alerts not stored before; return how many were new."""
    if not new:
        return 0
    now = datetime.now(UTC)
    with store.transaction() as tx:
        known = set(tx.execute(sa.select(alerts.c.fingerprint)).scalars())
        rows = [_row(a, now) for a in new if a.fingerprint not in known]
        unique = list({r["fingerprint"]: r for r in rows}.values())
        if unique:
            tx.execute(alerts.insert(), unique)
    return len(unique)


def _row(alert: Alert, now: datetime) -> dict:
    return {
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "severity": alert.severity,
        "labels": json.dumps(alert.labels, sort_keys=True),
        "annotations": json.dumps(alert.annotations, sort_keys=True),
        "starts_at": utc(alert.starts_at),
        "ends_at": utc(alert.ends_at),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def pending(store: SloStore) -> list[dict]:
    with store.transaction() as tx:
        rows = tx.execute(sa.select(alerts).where(alerts.c.status == "pending")).mappings().all()
    return [
        {
            **row,
            "labels": json.loads(row["labels"]),
            "annotations": json.loads(row["annotations"]),
            "starts_at": utc(row["starts_at"]),
            "ends_at": utc(row["ends_at"]),
        }
        for row in rows
    ]


def deliver(store: SloStore, alertmanager_url: str | None) -> int:
    """Send pending alerts; return how many were sent (0 when no Alertmanager is set)."""
    waiting = pending(store)
    if not alertmanager_url or not waiting:
        if waiting:
            log.info("no Alertmanager configured: %d alert(s) kept in the outbox", len(waiting))
        return 0
    client = Alertmanager(alertmanager_url)
    try:
        client.post(waiting)
    except AlertError as err:
        _mark(store, waiting, "pending", str(err))
        log.warning("%s; %d alert(s) stay in the outbox for the next run", err, len(waiting))
        return 0
    finally:
        client.close()
    _mark(store, waiting, "sent", None)
    return len(waiting)


def _mark(store: SloStore, rows: list[dict], status: str, error: str | None) -> None:
    now = datetime.now(UTC)
    with store.transaction() as tx:
        for row in rows:
            tx.execute(
                alerts.update()
                .where(alerts.c.id == row["id"])
                .values(
                    status=status, last_error=error, attempts=row["attempts"] + 1, updated_at=now
                )
            )
