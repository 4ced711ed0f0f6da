"""The Prometheus HTTP API as the collector uses it: auth, TLS, timeouts, retries.

`PrometheusApi` answers the decoded `data` of `/api/v1/series`, `/api/v1/query`,
`/api/v1/query_range` and `/api/v1/metadata`, and the raw series of the remote-read
endpoint `/api/v1/read` (see `remote_read`). What goes wrong becomes a `CollectError`:

- connection errors, timeouts, a cut response, 5xx and 429 are retried with exponential
  backoff (`retries`, `backoff_seconds`), then reported with the last cause;
- a query Prometheus rejects (400, 422) is reported at once with Prometheus's own message.

Credentials (password, bearer token) go in headers only; they are never logged and never put
in a message. URLs in messages carry no user information.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import tenacity

from slopipe.collect import remote_read
from slopipe.config import PrometheusSettings
from slopipe.errors import CollectError, ConfigError

log = logging.getLogger(__name__)

RETRIED_STATUS = {429, 500, 502, 503, 504}
READ_HEADERS = {**remote_read.HEADERS, "Accept": "application/x-protobuf"}
SUCCESS = b'{"status":"success"'


class _Transient(Exception):
    """A failure worth retrying; its message says what happened."""


def redact(url: str) -> str:
    """`url` without user name and password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def bearer_token(settings: PrometheusSettings) -> str | None:
    """The bearer token from its file or environment variable, if one is configured."""
    if settings.bearer_token_file:
        try:
            return settings.bearer_token_file.read_text().strip()
        except OSError as err:
            raise ConfigError(
                f"prometheus.bearer_token_file {settings.bearer_token_file}: {err.strerror}"
            ) from None
    if settings.bearer_token_env:
        token = os.environ.get(settings.bearer_token_env)
        if not token:
            raise ConfigError(
                f"prometheus.bearer_token_env names {settings.bearer_token_env}, which is not set"
            )
        return token.strip()
    return None


def _checked_url(url: str) -> str:
    """The Prometheus URL, refused in one line when no request could ever reach it."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as err:
        raise ConfigError(f"prometheus.url {redact(url)!r} is not a URL: {err}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"prometheus.url {redact(url)!r} is not an http(s) URL with a host, "
            "such as http://prometheus:9090"
        )
    return url


def _tls(settings: PrometheusSettings) -> ssl.SSLContext | bool:
    if not (settings.url or "").lower().startswith("https:"):
        return False  # plain HTTP: skip loading the CA bundle (0.2 s), it would not be used
    if not (settings.ca_file or settings.cert_file):
        return True
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.cert_file:
            keyfile = str(settings.key_file) if settings.key_file else None
            context.load_cert_chain(str(settings.cert_file), keyfile)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"prometheus TLS files (ca_file, cert_file, key_file): {err}") from None
    return context


def http_client(
    settings: PrometheusSettings, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client for `settings.url` with its auth, TLS and timeout."""
    if not settings.url:
        raise ConfigError("prometheus.url is not set (--url, SLOPIPE_PROMETHEUS__URL or config)")
    headers = {"Accept": "application/json"}
    token = bearer_token(settings)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    auth = None
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else ""
        auth = httpx.BasicAuth(settings.username, password)
    return httpx.Client(
        base_url=_checked_url(settings.url),
        headers=headers,
        auth=auth,
        verify=_tls(settings),
        timeout=settings.timeout_seconds,
        transport=transport,
        limits=httpx.Limits(max_connections=settings.parallel + 2),
    )


class PrometheusApi:
    """Calls to one Prometheus server, retried as configured; thread-safe."""

    def __init__(self, settings: PrometheusSettings, transport: httpx.BaseTransport | None = None):
        self.where = redact(settings.url or "")
        self.client = http_client(settings, transport)
        self.requests = 0
        self._counting = threading.Lock()
        self._retry = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(settings.retries + 1),
            wait=tenacity.wait_exponential(multiplier=settings.backoff_seconds, max=30),
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def close(self) -> None:
        self.client.close()

    def series(self, selector: str, start_ms: int, end_ms: int) -> list[dict[str, str]]:
        params = {"match[]": selector, "start": _seconds(start_ms), "end": _seconds(end_ms)}
        return self.get("/api/v1/series", params, f"selector {selector!r}")

    def query(self, query: str, at_ms: int, what: str) -> dict:
        return self.get("/api/v1/query", {"query": query, "time": _seconds(at_ms)}, what)

    def query_range(self, query: str, start_ms: int, end_ms: int, step_ms: int, what: str):
        params = {
            "query": query,
            "start": _seconds(start_ms),
            "end": _seconds(end_ms),
            "step": _seconds(step_ms),
        }
        return self.get("/api/v1/query_range", params, what)

    def metric_type(self, metric: str) -> str | None:
        """The type Prometheus's metadata gives `metric` (counter, gauge, ...), if any."""
        data = self.get("/api/v1/metadata", {"metric": metric}, f"metadata of {metric}")
        entries = data.get(metric) or []
        return entries[0].get("type") if entries else None

    def get(self, path: str, params: Mapping[str, str], what: str) -> Any:
        """The `data` of a successful answer; `what` names the request in errors."""
        return self._retried(path, params, what, raw=False)

    def get_matrix(self, query: str, at_ms: int, what: str) -> bytes:
        """The body of a successful instant query answer, undecoded (see `matrix`)."""
        params = {"query": query, "time": _seconds(at_ms)}
        return self._retried("/api/v1/query", params, what, raw=True)

    def read_series(self, labels: dict[str, str], start_ms: int, end_ms: int, what: str):
        """Remote read of the series with (at least) `labels` in `[start_ms, end_ms]`:
        `(labels, timestamps_ms, values)` per series, staleness markers included."""
        body = remote_read.read_request(labels, start_ms, end_ms)
        return self._retrying(what, self._read_once, body, what)

    def _retried(self, path: str, params: Mapping[str, str], what: str, raw: bool) -> Any:
        return self._retrying(what, self._get_once, path, params, what, raw)

    def _retrying(self, what: str, call, *args) -> Any:
        """`call(*args)`, retried on transient failures; `what` names it in the error."""
        try:
            return self._retry(call, *args)
        except _Transient as err:
            raise CollectError(
                f"prometheus {self.where}: {what}: {err} "
                "(gave up after retries; is Prometheus up and reachable?)"
            ) from None

    def _get_once(self, path: str, params: Mapping[str, str], what: str, raw: bool) -> Any:
        response = self._send("GET", path, what, params=params)
        if raw and response.status_code == 200 and response.content.startswith(SUCCESS):
            return response.content
        data = self._data(response, what)
        return response.content if raw else data

    def _read_once(self, body: bytes, what: str):
        response = self._send("POST", "/api/v1/read", what, content=body, headers=READ_HEADERS)
        if response.status_code != 200:
            self._refused(response, what)
        try:
            return remote_read.decode_response(response.content)
        except remote_read.DecodeErrors as err:
            raise _Transient(f"remote-read answer does not decode (cut short?): {err}") from None

    def _send(self, method: str, path: str, what: str, **request) -> httpx.Response:
        started = time.perf_counter()
        with self._counting:
            self.requests += 1
        try:
            response = self.client.request(method, path, **request)
        except httpx.TimeoutException as err:
            raise _Transient(f"timed out ({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise _Transient(f"{type(err).__name__}: {err}") from None
        log.debug(
            "%s %s (%s): %d, %d bytes in %.3fs",
            method,
            path,
            what,
            response.status_code,
            len(response.content),
            time.perf_counter() - started,
        )
        return response

    def _refused(self, response: httpx.Response, what: str) -> None:
        """Raise for a remote-read answer that is not 200 (its body is plain text)."""
        self._check_status(response.status_code)
        message = response.text.strip().splitlines()[0] if response.text.strip() else ""
        raise CollectError(
            f"prometheus {self.where} rejected the remote read of {what}: "
            f"HTTP {response.status_code} {message}".rstrip()
            + " (set prometheus.read_api = query if this server has no remote-read endpoint)"
        )

    def _check_status(self, status: int) -> None:
        if status in RETRIED_STATUS:
            raise _Transient(f"HTTP {status}")
        if status in (401, 403):
            raise CollectError(
                f"prometheus {self.where}: HTTP {status}: check prometheus.username/password, "
                "bearer_token_file or bearer_token_env"
            )

    def _data(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        self._check_status(status)
        try:
            body = response.json()
        except ValueError:
            if status == 200:
                raise _Transient("answer is not JSON (cut short?)") from None
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            message = body.get("error") if isinstance(body, dict) else None
            raise CollectError(
                f"prometheus {self.where} rejected {what}: {message or f'HTTP {status}'}"
            )
        return body["data"]

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "prometheus %s: attempt %d failed (%s); retrying in %.1fs",
            self.where,
            state.attempt_number,
            error,
            state.next_action.sleep if state.next_action else 0,
        )


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"
