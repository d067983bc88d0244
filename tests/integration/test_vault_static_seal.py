"""An auto-sealed Vault (issue 19): a single-node OpenBao of the test's own with a static seal (a 32-byte key file),
sealed with its root token. Its seal-status says `type: static, recovery_seal: true`; the service reports it
sealed with an auto seal and never submits a share to it (the keys an operator holds for it are recovery keys)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import consul
import pytest

from gateways.vault import VaultGateway
from messages.vault import VaultState
from neon_cm.environment import TlsSettings
from neon_cm.keys import SETTINGS_PREFIX
from neon_cm.vault import Observation, SealStatus
from tests.bao_server import OwnBao
from tests.integration.conftest import Cli
from tests.integration.test_cli import rows, seals
from tests.prometheus_server import free_port
from tests.service import Service
from tests.waiting import scrape, wait_for_metric, wait_until

AUTO_SEAL = "auto seal static: Vault unseals itself; check its seal backend"


class StaticSealBao(OwnBao):
    """An OpenBao with a static seal (a 32-byte key file); initialised here (one recovery share), then sealed with its
    root token."""

    name = "OpenBao (static seal)"

    def __init__(self, folder: Path) -> None:
        key = folder / "seal.key"
        key.write_bytes(os.urandom(32))
        super().__init__(folder, f'seal "static" {{\n  current_key_id = "test-1"\n  current_key = "file://{key}"\n}}\n')
        init = self.api("PUT", "/v1/sys/init", {"recovery_shares": 1, "recovery_threshold": 1})
        self.recovery_keys: list[str] = init["recovery_keys_base64"]
        self.root_token: str = init["root_token"]

    def sealed(self) -> bool:
        return bool(self.api("GET", "/v1/sys/seal-status")["sealed"])

    def seal_for_good(self) -> None:
        """Seal it so that it stays sealed. From its start, OpenBao tries its stored key every 5 s until one try
        finds it unsealed; a seal right after init can be undone by the next try (seen in a parallel run: the node was
        unsealed again 4.7 s after the seal). So: seal, and again until it stays sealed for longer than that period."""
        for _ in range(5):
            self.seal(self.root_token)
            wait_until(self.sealed, 10, "the node sealed")
            stays_until = time.monotonic() + 6
            while self.sealed() and time.monotonic() < stays_until:
                time.sleep(0.2)
            if self.sealed():
                return
        raise AssertionError("the static-seal node keeps unsealing itself")


@pytest.fixture(scope="module")
def auto_sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSealBao]:
    server = StaticSealBao(tmp_path_factory.mktemp("static-seal-bao"))
    server.seal_for_good()
    yield server
    server.stop()


def test_a_static_seal_is_read_as_an_auto_seal_no_share_may_go_to(auto_sealed: StaticSealBao) -> None:
    """Seal-status of the real OpenBao with a static seal: type static, a recovery seal, OpenBao's commit_date."""
    node = VaultGateway(auto_sealed.url, TlsSettings())

    status = node.seal_status()

    assert isinstance(status, SealStatus)
    assert (True, True, "static", True) == (status.initialized, status.sealed, status.seal_type, status.recovery_seal)
    assert status.auto_seal and "" != status.built
    assert Observation(VaultState.SEALED, AUTO_SEAL, unsealable=False, seal_type="static") == node.probe()


def test_an_unsealed_static_seal_says_so_beside_its_role(tmp_path: Path) -> None:
    """Issue 19: a static-seal OpenBao that unsealed itself after init is `unsealed`, detail `active, auto seal
    static`, seal type static."""
    server = StaticSealBao(tmp_path)
    node = VaultGateway(server.url, TlsSettings())
    try:
        found = wait_until(lambda: (probe := node.probe()).state is VaultState.UNSEALED and probe, 30, "it unsealed")
    finally:
        node.close()
        server.stop()

    assert Observation(VaultState.UNSEALED, "active, auto seal static", True, "static") == found


def test_the_service_reports_an_auto_sealed_vault_and_submits_nothing(
    auto_sealed: StaticSealBao,
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
    kv: consul.Consul,
    cli: Cli,
) -> None:
    """manager-1's Vault URL points at the static-seal node (the other managers cannot reach it): one ERROR saying
    it is an auto seal, polls go on, the Unsealer is never asked, and the node is still sealed (with the cluster's
    real keys loaded, so a share was there to send). Its seal type is in /metrics and in `vault status`'s SEAL
    column (issue 19)."""
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"http://{{addr}}:{auto_sealed.port}")
    port = free_port()
    service = start_service(METRICS_PORT=str(port), **with_keys)
    status = cli("vault", "status")

    assert 1 == wait_for_metric(port, 'neon_cm_vault_seal_type{node="manager-1",type="static"}', lambda v: v == 1)
    assert 0 == scrape(port)['neon_cm_vault_unseal_keys_refused{node="manager-1"}']
    manager_1 = rows(status)["manager-1"]
    assert ("sealed", "static", AUTO_SEAL) == (manager_1[1], seals(status)["manager-1"], manager_1[2])
    assert "-" == seals(status)["manager-2"]  # nothing listens there: no seal type said

    service.wait_for(rf"\[ERROR\] \[module:vault-monitor:manager-1\] Vault on manager-1 .* is sealed: {AUTO_SEAL}")
    mark = service.mark()
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-1\] .*: sealed auto seal static", count=4, after=mark)

    assert auto_sealed.api("GET", "/v1/sys/seal-status")["sealed"]
    assert [] == service.lines(r"\[module:unsealer\]")
    assert 1 == len(service.lines(rf"\[ERROR\] .*manager-1 .* is sealed: {AUTO_SEAL}"))
