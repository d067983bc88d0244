"""The service and the CLI against a real Consul over HTTPS that requires client certificates (ACLs on too):
Consul's own environment variables work, and a certificate problem is one clear line naming it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neon_cm.keys import HASH_KEY
from tests.consul_server import ConsulServer
from tests.integration.conftest import Cli
from tests.integration.test_consul_acl import ACTIVE, POLICY, PUBLISHED, seed
from tests.service import Service
from tests.tls_certs import CertificateAuthority

SERVER_NAME = "consul.neon-test"


@pytest.fixture(scope="module")
def tls_consul(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsulServer, dict[str, str]]]:
    """A Consul with ACLs serving HTTPS with a certificate for consul.neon-test only (not its address),
    requiring client certificates from the test CA; and the environment of a client with the full policy."""
    folder = tmp_path_factory.mktemp("tls-consul")
    ca = CertificateAuthority(folder)
    cert, key = ca.issue("consul", san=f"DNS:{SERVER_NAME}")
    client_cert, client_key = ca.issue("neon-cluster-manager", client=True)
    server = ConsulServer(folder, tls={"ca": str(ca.cert), "cert": cert, "key": key})
    env = {
        "CONSUL_HTTP_ADDR": f"127.0.0.1:{server.https_port}",
        "CONSUL_HTTP_SSL": "true",
        "CONSUL_CACERT": str(ca.cert),
        "CONSUL_CLIENT_CERT": client_cert,
        "CONSUL_CLIENT_KEY": client_key,
        "CONSUL_TLS_SERVER_NAME": SERVER_NAME,
        "CONSUL_HTTP_TOKEN": server.token_for("neon-cluster-manager", POLICY),
    }
    yield server, env
    server.stop()


@pytest.fixture
def tls_env(tls_consul: tuple[ConsulServer, dict[str, str]], real_stack: dict[str, Any]) -> dict[str, str]:
    """The TLS Consul seeded like the ACL tests' one; the client environment."""
    server, env = tls_consul
    seed(server)
    return env


def test_https_with_client_certificate_and_server_name_publishes(
    tls_consul: tuple[ConsulServer, dict[str, str]], tls_env: dict[str, str], start_service: Callable[..., Service]
) -> None:
    """Consul's variables (CONSUL_HTTP_SSL, CONSUL_CACERT, CONSUL_CLIENT_CERT/KEY, CONSUL_TLS_SERVER_NAME):
    lock, settings and publishing all work over mutual TLS; the start line says how Consul is reached."""
    service = start_service(**tls_env)

    service.wait_for(ACTIVE)
    service.wait_for(PUBLISHED)

    assert tls_consul[0].get(HASH_KEY)
    assert service.lines(r"Consul https://127\.0\.0\.1:\d+ \(TLS trusting .*ca\.pem as consul\.neon-test, client")
    assert [] == service.lines(r"\[(ERROR|WARN)\]")


def test_wrong_server_name_is_one_error_per_part_naming_the_mismatch(
    tls_env: dict[str, str], start_service: Callable[..., Service]
) -> None:
    """A certificate that does not carry the expected name: one ERROR for the lock naming the hostname
    mismatch (no traceback, not one per retry); Vault monitoring goes on."""
    service = start_service(**{**tls_env, "CONSUL_TLS_SERVER_NAME": "wrong.neon-test"})
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-1\] ", count=3, timeout=60)

    mismatch = r"\(SSLError: hostname 'wrong\.neon-test' doesn't match 'consul\.neon-test'\); retrying"
    assert 1 == len(service.lines(rf"\[ERROR\] \[module:leadership\] cannot reach Consul .*{mismatch}"))
    assert [] == service.lines(r"Traceback")


def test_cli_speaks_https_and_says_what_is_wrong_with_the_certificate(tls_env: dict[str, str], cli: Cli) -> None:
    """`settings get` over mutual TLS; without the client certificate, or with a CA file that is not there,
    exit 1 and one line saying so."""
    ok = cli("settings", "get", "node_poll_seconds", **tls_env)
    no_client_cert = cli("settings", "get", **{**tls_env, "CONSUL_CLIENT_CERT": "", "CONSUL_CLIENT_KEY": ""})
    no_ca = cli("settings", "get", **{**tls_env, "CONSUL_CACERT": "/nonexistent/ca.pem"})

    assert (0, b"0.5\n") == (ok.returncode, ok.stdout), ok.stderr
    assert 1 == no_client_cert.returncode
    assert 1 == len(no_client_cert.stderr.splitlines()), no_client_cert.stderr
    assert b"neon-cluster-manager: error: cannot reach Consul at https://127.0.0.1:" in no_client_cert.stderr
    assert 1 == no_ca.returncode
    assert b"CONSUL_CACERT=/nonexistent/ca.pem does not exist" in no_ca.stderr
