"""Vault over HTTPS with a CA made by the test: verified by default, VAULT_CACERT, VAULT_SKIP_VERIFY."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.keys import SETTINGS_PREFIX
from tests.integration.conftest import address, credentials
from tests.service import Service

MANAGER_3 = 2  # index of manager-3's OpenBao node, the one served over HTTPS here
UNSEALED_BY_SERVICE = r"unsealed the Vault on manager-3 "


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, and a server certificate it signed for manager-3's address."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    key, csr, cert, ext = folder / "vault.key", folder / "vault.csr", folder / "vault.pem", folder / "san.ext"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_cert),
            "-days", "2", "-subj", "/CN=neon-test-ca")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=manager-3")
    ext.write_text(f"subjectAltName = IP:{address('manager-3')}\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return {"ca": str(ca_cert), "cert": str(cert), "key": str(key)}


@pytest.fixture
def https_vault(
    real_stack: dict[str, Any], kv: consul.Consul, certificates: dict[str, str]
) -> Iterator[dict[str, str]]:
    """manager-3's OpenBao restarted over HTTPS (sealed); monitors use https://{addr}:8200.

    Afterwards it is back on plain HTTP and unsealed.
    """
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "1")
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", "https://{addr}:8200")
    stack.vault_restart(MANAGER_3, tls=(certificates["cert"], certificates["key"]))
    vault = real_stack["vault"]
    yield {"VAULT_CREDENTIALS": credentials(vault["keys_base64"], vault["threshold"])}
    stack.vault_restart(MANAGER_3)
    stack.vault_unseal(MANAGER_3)


def test_trusted_ca_bundle_lets_the_service_unseal(
    start_service: Callable[..., Service], https_vault: dict[str, str], certificates: dict[str, str]
) -> None:
    """With VAULT_CACERT naming the test's CA, the HTTPS node is monitored and unsealed."""
    service = start_service(VAULT_CACERT=certificates["ca"], **https_vault)

    service.wait_for(UNSEALED_BY_SERVICE)

    assert not stack.vault_seal_status(MANAGER_3)["sealed"]
    assert service.lines(r"Vault TLS \(for https:// URLs\) trusting .*ca\.pem")


def test_unverifiable_certificate_is_unreachable_and_gets_no_key(
    start_service: Callable[..., Service], https_vault: dict[str, str]
) -> None:
    """Verification on by default: the node is `unreachable` with the TLS reason, and no share is sent to it."""
    service = start_service(**https_vault)

    url = f"https://{address('manager-3')}:8200"
    service.wait_for(rf"\[ERROR\] .*Vault on manager-3 \({url}\) is unreachable: TLS verification")
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-3\] .*: unreachable", count=4)

    status = stack.vault_seal_status(MANAGER_3)
    assert (True, 0) == (status["sealed"], status["progress"])
    assert [] == service.lines(UNSEALED_BY_SERVICE)


def test_skip_verify_really_skips_verification(
    start_service: Callable[..., Service], https_vault: dict[str, str]
) -> None:
    """VAULT_SKIP_VERIFY=true takes effect (with a WARN saying so): the node is unsealed."""
    service = start_service(VAULT_SKIP_VERIFY="true", **https_vault)

    service.wait_for(UNSEALED_BY_SERVICE)

    assert not stack.vault_seal_status(MANAGER_3)["sealed"]
    assert service.lines(r"\[WARN\] .*VAULT_SKIP_VERIFY=true: Vault's TLS certificates are NOT verified")


def test_ca_bundle_file_is_the_one_trusted(certificates: dict[str, str]) -> None:
    """Sanity check of the fixture: the server certificate verifies against the test CA."""
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", certificates["ca"], certificates["cert"]], capture_output=True, text=True
    )

    assert 0 == result.returncode, result.stderr
    assert Path(certificates["ca"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
