"""The alert outbox in the SLO store: alerts are kept before they are sent, never dropped.

Every alert row goes through one small state machine:

    firing/pending --post ok--> firing/sent --re-post due--> (posted again, stays firing/sent)
          |                         |
          +------ condition clears -+--> resolved/pending --post ok--> resolved/sent (final)

A failed post leaves the row as it was, counts the attempt, keeps the error and sets
`next_attempt_at` after an exponential backoff. State changes are committed before anything
is posted, and a row is marked sent only after Alertmanager accepted it, so delivery is
at-least-once. A re-post carries the same labels and `startsAt`, and Alertmanager merges
alerts with identical label sets, so a re-post (after a crash, a retry, or the periodic
re-post while firing) never becomes a second notification.

`sync` and `deliver(repost=True)` are the monitor's. `enqueue` and `deliver()` serve
`slopipe run`: its alerts have no identity, are posted once, and are never re-posted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from slopipe.alert.alertmanager import Alertmanager
from slopipe.alert.rules import Alert
from slopipe.errors import AlertError
from slopipe.slo.store import SloStore, alerts, utc

log = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(seconds=1)


def identity(labels: dict[str, str]) -> str:
    """An alert's identity: a hash of its label set, as Alertmanager tells alerts apart."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()


def backoff(attempts: int, most: timedelta) -> timedelta:
    """Wait before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... up to `most`."""
    return min(most, BACKOFF_FIRST * 2 ** max(attempts - 1, 0))


@dataclass(frozen=True)
class SyncResult:
    opened: int
    resolved: int
    firing: int


def sync(store: SloStore, desired: list[Alert], now: datetime) -> SyncResult:
    """Make the outbox match the alerts that should fire now, in one transaction.

    A new condition opens a firing row; one already open keeps its row and `startsAt` (its
    annotations are refreshed); an open row whose condition is gone is resolved at `now`.
    """
    wanted = {identity(a.labels): a for a in desired}
    opened = resolved = 0
    with store.transaction() as tx:
        rows = tx.execute(
            sa.select(alerts).where((alerts.c.state == "firing") & (alerts.c.identity != ""))
        ).mappings()
        current = {row["identity"]: row for row in rows}
        for key, alert in wanted.items():
            if key in current:
                annotations = json.dumps(alert.annotations, sort_keys=True)
                tx.execute(
                    alerts.update()
                    .where(alerts.c.id == current[key]["id"])
                    .values(annotations=annotations)
                )
            else:
                tx.execute(alerts.insert().values(_row(_after_last(tx, alert, key), now, key)))
                opened += 1
        for key, row in current.items():
            if key not in wanted:
                tx.execute(
                    alerts.update()
                    .where(alerts.c.id == row["id"])
                    .values(
                        state="resolved",
                        ends_at=now,
                        status="pending",
                        next_attempt_at=now,
                        updated_at=now,
                    )
                )
                resolved += 1
    return SyncResult(opened, resolved, len(wanted))


def _after_last(tx, alert: Alert, key: str) -> Alert:
    """The alert, starting no earlier than the end of its identity's last episode."""
    ended = tx.execute(
        sa.select(sa.func.max(alerts.c.ends_at)).where(alerts.c.identity == key)
    ).scalar_one_or_none()
    if ended is None or utc(ended) < utc(alert.starts_at):
        return alert
    return replace(alert, starts_at=utc(ended) + timedelta(seconds=1), fingerprint="")


def enqueue(store: SloStore, new: list[Alert]) -> int:
    """Store alerts not stored before (by fingerprint); return how many were new."""
    if not new:
        return 0
    now = datetime.now(UTC)
    with store.transaction() as tx:
        known = set(tx.execute(sa.select(alerts.c.fingerprint)).scalars())
        rows = [_row(a, now, "") for a in new if a.fingerprint not in known]
        unique = list({r["fingerprint"]: r for r in rows}.values())
        if unique:
            tx.execute(alerts.insert(), unique)
    return len(unique)


def _row(alert: Alert, now: datetime, key: str) -> dict:
    starts_at = utc(alert.starts_at)
    fingerprint = (
        hashlib.sha256(f"{key}|{starts_at.isoformat()}".encode()).hexdigest()
        if key
        else alert.fingerprint
    )
    return {
        "fingerprint": fingerprint,
        "identity": key,
        "alertname": alert.alertname,
        "severity": alert.severity,
        "labels": json.dumps(alert.labels, sort_keys=True),
        "annotations": json.dumps(alert.annotations, sort_keys=True),
        "starts_at": starts_at,
        "ends_at": utc(alert.ends_at),
        "state": "resolved" if alert.ends_at else "firing",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def due(store: SloStore, now: datetime | None = None, repost: bool = False) -> list[dict]:
    """Rows to post now: pending ones whose backoff is over, and, with `repost`, firing
    rows whose re-post is due."""
    is_pending = alerts.c.status == "pending"
    if now is not None:
        ready = alerts.c.next_attempt_at.is_(None) | (alerts.c.next_attempt_at <= now)
        is_pending = is_pending & ready
        if repost:
            refresh = (
                (alerts.c.status == "sent")
                & (alerts.c.state == "firing")
                & (alerts.c.identity != "")
                & (alerts.c.next_attempt_at <= now)
            )
            is_pending = is_pending | refresh
    with store.transaction() as tx:
        rows = tx.execute(sa.select(alerts).where(is_pending).order_by(alerts.c.id)).mappings()
        return [_decoded(row) for row in rows]


def pending(store: SloStore) -> list[dict]:
    """Every row not yet delivered, whatever its backoff."""
    return due(store)


def depth(store: SloStore) -> int:
    """How many alerts wait to be delivered."""
    with store.transaction() as tx:
        return tx.execute(
            sa.select(sa.func.count()).select_from(alerts).where(alerts.c.status == "pending")
        ).scalar_one()


def _decoded(row) -> dict:
    return {
        **row,
        "labels": json.loads(row["labels"]),
        "annotations": json.loads(row["annotations"]),
        "starts_at": utc(row["starts_at"]),
        "ends_at": utc(row["ends_at"]),
        "next_attempt_at": utc(row["next_attempt_at"]),
        "posted_at": utc(row["posted_at"]),
        "generator_url": json.loads(row["annotations"]).get("dashboard", ""),
    }


def deliver(
    store: SloStore,
    alertmanager_url: str | None,
    now: datetime | None = None,
    repost_after: timedelta = timedelta(minutes=1),
    backoff_max: timedelta = timedelta(minutes=5),
    attempts: int = 3,
) -> int:
    """Post what is due; return how many alerts Alertmanager accepted.

    Without `now` (`slopipe run`), every pending alert is posted once. With `now` (the
    monitor), backoff is respected and firing alerts are re-posted every `repost_after`.
    """
    waiting = due(store, now, repost=now is not None)
    if not alertmanager_url or not waiting:
        if waiting:
            log.info("no Alertmanager configured: %d alert(s) kept in the outbox", len(waiting))
        return 0
    client = Alertmanager(alertmanager_url, attempts=attempts)
    try:
        client.post(waiting)
    except AlertError as err:
        _failed(store, waiting, str(err), now or datetime.now(UTC), backoff_max)
        log.warning("%s; %d alert(s) stay in the outbox for the next run", err, len(waiting))
        return 0
    finally:
        client.close()
    _sent(store, waiting, now or datetime.now(UTC), repost_after)
    return len(waiting)


def _sent(store: SloStore, rows: list[dict], now: datetime, repost_after: timedelta) -> None:
    with store.transaction() as tx:
        for row in rows:
            again = now + repost_after if row["state"] == "firing" else None
            tx.execute(
                alerts.update()
                .where(alerts.c.id == row["id"])
                .values(
                    status="sent",
                    last_error=None,
                    attempts=row["attempts"] + 1,
                    posted_at=now,
                    next_attempt_at=again,
                    updated_at=now,
                )
            )


def _failed(
    store: SloStore, rows: list[dict], error: str, now: datetime, backoff_max: timedelta
) -> None:
    with store.transaction() as tx:
        for row in rows:
            tried = row["attempts"] + 1
            tx.execute(
                alerts.update()
                .where(alerts.c.id == row["id"])
                .values(
                    last_error=error,
                    attempts=tried,
                    next_attempt_at=now + backoff(tried, backoff_max),
                    updated_at=now,
                )
            )
