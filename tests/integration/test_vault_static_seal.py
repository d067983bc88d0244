"""An auto-sealed Vault (issue 19): a single-node OpenBao of the test's own with a static seal (a 32-byte key file),
sealed with its root token. Its seal-status says `type: static, recovery_seal: true`; the service reports it
sealed with an auto seal and never submits a share to it (the keys an operator holds for it are recovery keys)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest
import requests

from gateways.vault import VaultGateway
from messages.vault import VaultState
from neon_cm.environment import TlsSettings
from neon_cm.keys import SETTINGS_PREFIX
from neon_cm.vault import Observation, SealStatus
from tests.integration.test_vault_mtls import MANAGER_1
from tests.prometheus_server import CACHE, free_port
from tests.server_process import ServerProcess
from tests.service import Service

AUTO_SEAL = "auto seal static: Vault unseals itself; check its seal backend"


class StaticSealBao(ServerProcess):
    """`bao server` with in-memory storage and a static seal, listening on manager-1's address only; initialised
    here (one recovery share), then sealed with its root token."""

    name = "OpenBao (static seal)"

    def __init__(self, folder: Path) -> None:
        key = folder / "seal.key"
        key.write_bytes(os.urandom(32))
        self.port = free_port(MANAGER_1)
        config = folder / "bao.hcl"
        config.write_text(
            f'storage "inmem" {{}}\n'
            f'listener "tcp" {{\n  address = "{MANAGER_1}:{self.port}"\n  tls_disable = true\n}}\n'
            f'seal "static" {{\n  current_key_id = "test-1"\n  current_key = "file://{key}"\n}}\n'
            f'disable_mlock = true\napi_addr = "{self.url}"\n'
        )
        self.log = folder / "bao.log"
        environment = {name: value for name, value in os.environ.items() if not name.startswith(("VAULT_", "BAO_"))}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(Path(CACHE) / "bin" / "bao"), "server", f"-config={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**environment, "HOME": str(folder)},
            )
        self.wait_until_answering(lambda: self.api("GET", "/v1/sys/seal-status"))
        init = self.api("PUT", "/v1/sys/init", {"recovery_shares": 1, "recovery_threshold": 1})
        self.recovery_keys: list[str] = init["recovery_keys_base64"]
        self.root_token: str = init["root_token"]

    @property
    def url(self) -> str:
        return f"http://{MANAGER_1}:{self.port}"

    def api(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        answer = requests.request(
            method,
            self.url + path,
            data=json.dumps(body) if body is not None else None,
            headers={"X-Vault-Token": token} if token else {},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def seal(self) -> None:
        """PUT /v1/sys/seal with the root token, once it has unsealed itself after init."""
        self.wait_until_answering(lambda: self.api("PUT", "/v1/sys/seal", token=self.root_token))


@pytest.fixture(scope="module")
def auto_sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSealBao]:
    server = StaticSealBao(tmp_path_factory.mktemp("static-seal-bao"))
    server.seal()
    yield server
    server.stop()


def test_a_static_seal_is_read_as_an_auto_seal_no_share_may_go_to(auto_sealed: StaticSealBao) -> None:
    """Seal-status of the real OpenBao with a static seal: type static, a recovery seal, OpenBao's commit_date."""
    node = VaultGateway(auto_sealed.url, TlsSettings())

    status = node.seal_status()

    assert isinstance(status, SealStatus)
    assert (True, True, "static", True) == (status.initialized, status.sealed, status.seal_type, status.recovery_seal)
    assert status.auto_seal and "" != status.built
    assert Observation(VaultState.SEALED, AUTO_SEAL, unsealable=False) == node.probe()


def test_the_service_reports_an_auto_sealed_vault_and_submits_nothing(
    auto_sealed: StaticSealBao,
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
    kv: consul.Consul,
) -> None:
    """manager-1's Vault URL points at the static-seal node (the other managers cannot reach it): one ERROR saying
    it is an auto seal, polls go on, the Unsealer is never asked, and the node is still sealed (with the cluster's
    real keys loaded, so a share was there to send)."""
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"http://{{addr}}:{auto_sealed.port}")
    service = start_service(**with_keys)

    service.wait_for(rf"\[ERROR\] \[module:vault-monitor:manager-1\] Vault on manager-1 .* is sealed: {AUTO_SEAL}")
    mark = service.mark()
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-1\] .*: sealed auto seal static", count=4, after=mark)

    assert auto_sealed.api("GET", "/v1/sys/seal-status")["sealed"]
    assert [] == service.lines(r"\[module:unsealer\]")
    assert 1 == len(service.lines(rf"\[ERROR\] .*manager-1 .* is sealed: {AUTO_SEAL}"))
