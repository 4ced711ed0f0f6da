"""Posting alerts to Prometheus Alertmanager's v2 API, with retries and backoff."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from slopipe.errors import AlertError

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def payload(alert: dict) -> dict:
    """One alert as Alertmanager's `postableAlert`."""
    body = {
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "startsAt": _iso(alert["starts_at"]),
        "generatorURL": alert.get("generator_url", ""),
    }
    if alert.get("ends_at"):
        body["endsAt"] = _iso(alert["ends_at"])
    return body


class Alertmanager:
    def __init__(self, url: str, timeout_seconds: float = 10.0, attempts: int = 3):
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout_seconds)
        self.attempts = attempts

    def post(self, alerts: list[dict]) -> None:
        """Post alerts in one request; raise AlertError once retries are spent."""
        if not alerts:
            return
        body = [payload(a) for a in alerts]
        try:
            self._post_with_retries(body)
        except httpx.HTTPError as err:
            raise AlertError(f"alertmanager {self.url}: {err}") from None
        log.info("alertmanager %s: posted %d alert(s)", self.url, len(alerts))

    def _post_with_retries(self, body: list[dict]) -> None:
        @retry(
            retry=retry_if_exception_type(httpx.HTTPError),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            reraise=True,
        )
        def send() -> None:
            self.client.post(f"{self.url}/api/v2/alerts", json=body).raise_for_status()

        send()

    def close(self) -> None:
        self.client.close()
