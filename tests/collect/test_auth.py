"""Auth and TLS against a real Prometheus (its --web.config.file), and secrets kept secret.

Prometheus checks basic auth and client certificates itself. It has no bearer-token check,
so what the collector sends as a bearer token is read at `FaultProxy`, a fake proxy.
"""

from __future__ import annotations

import crypt
import logging
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from slopipe.collect.raw import collect_into
from slopipe.config import PrometheusSettings
from slopipe.errors import CollectError
from slopipe.lake import Lake
from tests.fixtures.collecting import invoke
from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.prometheus import PrometheusServer, create_blocks, write_openmetrics

SAMPLES = [(1400000000 + 60 * i, f"{i}.25") for i in range(50)]


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl."""
    names = {
        n: folder / n
        for n in ("ca.key", "ca.pem", "server.key", "server.pem", "client.key", "client.pem")
    }

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    for who, extra in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={who}",
            "-keyout",
            f"{who}.key",
            "-out",
            f"{who}.csr",
        )
        (folder / f"{who}.ext").write_text(extra + "\n")
        run(
            "x509",
            "-req",
            "-in",
            f"{who}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{who}.ext",
            "-out",
            f"{who}.pem",
        )
    return names


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """Prometheus on HTTPS that wants a client certificate and the user `slopipe`."""
    folder = tmp_path_factory.mktemp("secured")
    certs = make_certificates(folder)
    hashed = crypt.crypt("s3cret-pass", crypt.mksalt(crypt.METHOD_BLOWFISH))
    web = (
        "tls_server_config:\n"
        f"  cert_file: {certs['server.pem']}\n  key_file: {certs['server.key']}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {certs['ca.pem']}\n"
        f"basic_auth_users:\n  slopipe: '{hashed}'\n"
    )
    server = PrometheusServer(folder, web_config=web, scheme="https")
    write_openmetrics(folder / "h.om", {"secure_value": ("gauge", [({"k": "v"}, SAMPLES)])})
    create_blocks(folder / "h.om", server.data_dir)

    context = ssl.create_default_context(cafile=str(certs["ca.pem"]))
    context.load_cert_chain(str(certs["client.pem"]), str(certs["client.key"]))

    def ready() -> bool:
        try:
            answer = httpx.get(
                f"{server.url}/-/ready",
                verify=context,
                auth=("slopipe", "s3cret-pass"),
                timeout=1,
            )
            return answer.status_code == 200
        except httpx.HTTPError:
            return False

    server.start(ready_check=ready)
    try:
        yield server, certs
    finally:
        server.stop()


def secure_settings(server, certs, **changes) -> PrometheusSettings:
    base = dict(
        url=server.url,
        selectors=["secure_value"],
        lookback_days=7300,
        retries=0,
        username="slopipe",
        password="s3cret-pass",
        ca_file=certs["ca.pem"],
        cert_file=certs["client.pem"],
        key_file=certs["client.key"],
    )
    return PrometheusSettings(**(base | changes))


def test_basic_auth_custom_ca_and_client_certificate(secured, tmp_path):
    server, certs = secured
    result = collect_into(Lake(tmp_path / "lake"), secure_settings(server, certs))
    values = Lake(tmp_path / "lake").read()["value"].tolist()
    assert values == [float(v) for _, v in SAMPLES]
    assert result.new_samples == 50


def test_a_wrong_password_says_which_settings_to_check(secured, tmp_path):
    server, certs = secured
    with pytest.raises(CollectError, match="HTTP 401: check prometheus.username/password"):
        collect_into(Lake(tmp_path / "lake"), secure_settings(server, certs, password="nope"))


def test_without_the_client_certificate_the_connection_fails(secured, tmp_path):
    server, certs = secured
    settings = secure_settings(server, certs, cert_file=None, key_file=None)
    with pytest.raises(CollectError, match="gave up after retries"):
        collect_into(Lake(tmp_path / "lake"), settings)


@pytest.mark.parametrize("source", ["file", "env"])
def test_the_bearer_token_is_sent_and_never_logged(
    nab_prometheus, home, tmp_path, monkeypatch, caplog, source
):
    token = "tok-3f9a1c77e2"
    if source == "file":
        (tmp_path / "token").write_text(token + "\n")
        monkeypatch.setenv("SLOPIPE_PROMETHEUS__BEARER_TOKEN_FILE", str(tmp_path / "token"))
    else:
        monkeypatch.setenv("PROM_TOKEN", token)
        monkeypatch.setenv("SLOPIPE_PROMETHEUS__BEARER_TOKEN_ENV", "PROM_TOKEN")
    monkeypatch.setenv("SLOPIPE_PROMETHEUS__LOOKBACK_DAYS", "7300")
    caplog.set_level(logging.DEBUG)
    with FaultProxy(nab_prometheus.url, paths=("/nothing",)) as proxy:
        done = invoke("-v", "collect", "--url", proxy.url, "--selector", "odd_value", "--json")
    assert done.exit_code == 0, done.stderr
    assert {h.get("Authorization") for h in proxy.headers_seen} == {f"Bearer {token}"}
    assert token not in done.stdout + done.stderr + caplog.text
