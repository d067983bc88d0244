"""Vault over mutual TLS: a single-node OpenBao of the test's own that requires client certificates
(`tls_require_and_verify_client_cert`), with three listeners: a good certificate, an expired one, and one for
another host. Unsealing works over mTLS; a wrong CA, an expired or wrong-host certificate, or no client
certificate each leave the Vault `unreachable` with a clear reason, and no key is sent."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest
import requests

from neon_cm.keys import SETTINGS_PREFIX
from tests.integration.conftest import address, credentials
from tests.prometheus_server import free_port
from tests.server_process import ServerProcess
from tests.service import Service
from tests.tls_certs import CertificateAuthority
from teststack.binaries import find_bao

MANAGER_1 = address("manager-1")  # `https://{addr}:<port>` reaches the test's OpenBao from manager-1 alone
UNSEALED = r"unsealed the Vault on manager-1 "
LISTENERS = ("good", "expired", "wrong-host")


class MutualTlsBao(ServerProcess):
    """`bao server` with raft storage and one listener per certificate in LISTENERS, all requiring a client
    certificate from the test CA; initialised here (one key share), then sealed with its root token."""

    name = "OpenBao"

    def __init__(self, folder: Path) -> None:
        self.ca = CertificateAuthority(folder)
        self.client = self.ca.issue("neon-cluster-manager", client=True)
        self.ports = {name: free_port(MANAGER_1) for name in LISTENERS}
        certificates = {
            "good": self.ca.issue("bao-good", san=f"IP:{MANAGER_1}"),
            "expired": self.ca.issue("bao-expired", san=f"IP:{MANAGER_1}", expired=True),
            "wrong-host": self.ca.issue("bao-wrong-host", san="IP:127.0.0.99,DNS:elsewhere.neon-test"),
        }
        listeners = "".join(
            f'listener "tcp" {{\n  address = "{MANAGER_1}:{self.ports[name]}"\n'
            f'  cluster_address = "{MANAGER_1}:{free_port(MANAGER_1)}"\n'
            f'  tls_cert_file = "{cert}"\n  tls_key_file = "{key}"\n  tls_client_ca_file = "{self.ca.cert}"\n'
            "  tls_require_and_verify_client_cert = true\n}\n"
            for name, (cert, key) in certificates.items()
        )
        config, data = folder / "bao.hcl", folder / "raft"
        data.mkdir()
        config.write_text(
            f'storage "raft" {{\n  path = "{data}"\n  node_id = "mtls"\n}}\n{listeners}'
            f'api_addr = "{self.url("good")}"\ncluster_addr = "https://{MANAGER_1}:{free_port(MANAGER_1)}"\n'
        )
        self.log = folder / "bao.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [find_bao(), "server", f"-config={config}"], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self.wait_ready()
            init = self.api("PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
        except BaseException:
            self.stop()  # never leave it running: a later run's server on this address would talk to it
            raise
        self.keys: list[str] = init["keys_base64"]
        self.root_token: str = init["root_token"]

    def url(self, listener: str) -> str:
        return f"https://{MANAGER_1}:{self.ports[listener]}"

    def api(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        """A request to the good listener with the client certificate."""
        answer = requests.request(
            method,
            self.url("good") + path,
            data=json.dumps(body) if body is not None else None,
            headers={"X-Vault-Token": token} if token else {},
            verify=str(self.ca.cert),
            cert=self.client,
            timeout=60,  # a wide bound: `sys/init` took over 10 s on a loaded 2-core machine (teststack uses 60)
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait_until_answering(lambda: self.api("GET", "/v1/sys/seal-status"), timeout)

    def seal(self) -> None:
        """PUT /v1/sys/seal (root token) unless sealed; then no unseal progress."""
        if not self.api("GET", "/v1/sys/seal-status")["sealed"]:
            self.api("PUT", "/v1/sys/seal", token=self.root_token)

    def seal_status(self) -> dict[str, Any]:
        return dict(self.api("GET", "/v1/sys/seal-status"))


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MutualTlsBao]:
    server = MutualTlsBao(tmp_path_factory.mktemp("mtls-bao"))
    yield server
    server.stop()


@pytest.fixture
def sealed(bao: MutualTlsBao, kv: consul.Consul) -> Callable[[str], dict[str, str]]:
    """The test's OpenBao sealed; returns, for a listener, the environment of a service with its keys and the
    test CA and client certificate, `vault_url_template` pointing manager-1 at that listener."""
    bao.seal()
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")

    def env(listener: str) -> dict[str, str]:
        kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"https://{{addr}}:{bao.ports[listener]}")
        return {
            "VAULT_CREDENTIALS": credentials(bao.keys, 1),
            "VAULT_CACERT": str(bao.ca.cert),
            "VAULT_CLIENT_CERT": bao.client[0],
            "VAULT_CLIENT_KEY": bao.client[1],
        }

    return env


def unreachable(service: Service, reason: str) -> None:
    """manager-1's Vault reported unreachable for `reason`, polled a few times more, never unsealed."""
    service.wait_for(rf"\[ERROR\] .*Vault on manager-1 \(https://{MANAGER_1}:\d+\) is unreachable: {reason}")
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-1\] .*: unreachable", count=4)


def test_unsealing_works_over_mutual_tls(
    bao: MutualTlsBao, sealed: Callable[[str], dict[str, str]], start_service: Callable[..., Service]
) -> None:
    """With the CA and a client certificate the Vault accepts, the sealed node is unsealed."""
    service = start_service(**sealed("good"))

    service.wait_for(UNSEALED)

    assert False is bao.seal_status()["sealed"]
    assert service.lines(r"Vault TLS \(for https:// URLs\) trusting .*neon-test-ca\.pem, client certificate ")


def test_missing_client_certificate_is_unreachable_and_gets_no_key(
    bao: MutualTlsBao, sealed: Callable[[str], dict[str, str]], start_service: Callable[..., Service]
) -> None:
    """Without VAULT_CLIENT_CERT/KEY the Vault refuses the handshake: unreachable, saying so; no share sent."""
    service = start_service(**{**sealed("good"), "VAULT_CLIENT_CERT": "", "VAULT_CLIENT_KEY": ""})

    unreachable(service, r"TLS handshake failed: \[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED\]")

    assert (True, 0) == (bao.seal_status()["sealed"], bao.seal_status()["progress"])
    assert [] == service.lines(UNSEALED)


@pytest.mark.parametrize(
    ("listener", "ca", "reason"),
    [
        ("good", "other", r"TLS verification failed: .*unable to get local issuer certificate"),
        ("expired", "test", r"TLS verification failed: .*certificate has expired"),
        ("wrong-host", "test", r"TLS verification failed: .*IP address mismatch"),
    ],
    ids=["wrong CA", "expired certificate", "wrong host"],
)
def test_unverifiable_vault_is_unreachable_and_gets_no_key(
    bao: MutualTlsBao,
    sealed: Callable[[str], dict[str, str]],
    start_service: Callable[..., Service],
    tmp_path: Path,
    listener: str,
    ca: str,
    reason: str,
) -> None:
    """A Vault whose certificate does not verify (another CA, expired, another host's) is unreachable with
    the reason, and not one share is sent to it."""

    env = sealed(listener)
    if ca == "other":
        env["VAULT_CACERT"] = str(CertificateAuthority(tmp_path, "other-ca").cert)
    service = start_service(**env)

    unreachable(service, reason)

    assert (True, 0) == (bao.seal_status()["sealed"], bao.seal_status()["progress"])
    assert [] == service.lines(UNSEALED)
