"""Rotated unseal keys (issue 19): a single-node Shamir OpenBao of the test's own, initialised with 3 shares and a
threshold of 2, its keys then rotated (`PUT /v1/sys/rotate/root/init` + `/update`, OpenBao 2.x's name for rekey),
and sealed. The service holds the OLD shares: OpenBao takes the first share of each combination (200, progress 1)
and refuses the second with 400 `unable to retrieve stored keys: invalid key: failed to decrypt keys from storage:
cipher: message authentication failed`. The operator reads one ERROR saying the keys do not unseal this Vault, once
while the attempts go on, and neon_cm_vault_unseal_keys_refused says it; the current keys still unseal it."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import consul
import pytest

from neon_cm.credentials import parse_credentials_base64
from neon_cm.keys import SETTINGS_PREFIX
from tests.bao_server import OwnBao
from tests.integration.conftest import Cli, credentials
from tests.integration.test_definition_pipeline import seed_base
from tests.integration.test_metrics import health_command
from tests.prometheus_server import free_port
from tests.service import Service
from tests.waiting import scrape, wait_for_metric, wait_until

#: What OpenBao 2.7.2 answers to a combination of shares from before a rotation (seen here).
WRONG_COMBINATION = (
    "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication "
    "failed"
)
#: The one ERROR, as the log shows it.
KEYS_REFUSED = (
    "[ERROR] [module:unsealer] manager-1: the unseal keys do not unseal this Vault (rotated, or another cluster's): "
    f"every combination of 2 of the 3 keys was refused (last: Vault rejected unseal key 2 of 2: {WRONG_COMBINATION}); "
    "put this Vault's current keys in the credentials"
)
REFUSED_METRIC = 'neon_cm_vault_unseal_keys_refused{node="manager-1"}'
ATTEMPTS_METRIC = 'neon_cm_vault_unseal_attempts_total{node="manager-1"}'
DEGRADED_METRIC = 'neon_cm_degraded{reason="keys_refused"}'


class RotatedBao(OwnBao):
    """Initialised (3 shares, threshold 2), unsealed, its root key rotated with the old shares, then sealed: `old`
    are the shares from init, `current` those the rotation returned."""

    name = "OpenBao (rotated keys)"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        init = self.api("PUT", "/v1/sys/init", {"secret_shares": 3, "secret_threshold": 2})
        self.old: list[str] = init["keys_base64"]
        self.root_token: str = init["root_token"]
        for share in self.old[:2]:
            self.api("PUT", "/v1/sys/unseal", {"key": share})
        started = self.api(
            "PUT", "/v1/sys/rotate/root/init", {"secret_shares": 3, "secret_threshold": 2}, self.root_token
        )
        rotated: dict[str, object] = {}
        for share in self.old[:2]:
            body = {"key": share, "nonce": started["data"]["nonce"]}
            rotated = self.api("PUT", "/v1/sys/rotate/root/update", body, self.root_token)["data"]
        assert rotated["complete"] is True
        self.current: list[str] = rotated["keys_base64"]  # type: ignore[assignment]
        self.seal(self.root_token)

    def all_forms(self) -> set[str]:
        """Every share, old and current, in base64 and hex: none may appear in a log line."""
        shares = [*self.old, *self.current]
        return set(shares) | {base64.b64decode(share).hex() for share in shares}


@pytest.fixture
def rotated(tmp_path: Path) -> Iterator[RotatedBao]:
    server = RotatedBao(tmp_path)
    yield server
    server.stop()


def test_old_shares_refused_by_the_real_openbao_are_one_error_counted_in_the_metric(
    rotated: RotatedBao,
    start_service: Callable[..., Service],
    kv: consul.Consul,
    service_env: dict[str, str],
    cli: Cli,
) -> None:
    """manager-1's Vault URL points at the rotated node (the other managers' addresses have nothing on its port).
    Each combination refused but the last is an ERROR (a rejected share, as the interface promises); the last gives
    ONE ERROR more with the keys-refused words and sets the gauge to 1; three more attempts (every combination
    again, a share sent each time) bring no second ERROR and no WARN. Meanwhile `health` says `degraded` with the
    reason (exit 0: a new task would hold the same keys), /metrics neon_cm_degraded{reason="keys_refused"} 1, and
    `vault status` (in the service's environment) names the key set and the Vault that refused it. The current keys
    unseal it: the gauges go back to 0 and `health` says healthy."""
    seed_base(kv)  # else `health` would also say the base definition is missing
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"http://{{addr}}:{rotated.port}")
    port = free_port()
    keys = credentials(rotated.old, 2)
    key_set = parse_credentials_base64(keys, "test").fingerprint()
    service = start_service(METRICS_PORT=str(port), VAULT_CREDENTIALS=keys)

    service.wait_for(re.escape(KEYS_REFUSED) + "$")
    assert 1 == wait_for_metric(port, REFUSED_METRIC, lambda v: v == 1)
    attempts = scrape(port)[ATTEMPTS_METRIC]
    mark = service.mark()
    wait_for_metric(port, ATTEMPTS_METRIC, lambda v: v >= attempts + 3)  # the polls and attempts go on

    assert rotated.api("GET", "/v1/sys/seal-status")["sealed"]
    assert 1 == len([line for line in service.lines(r"\[ERROR\] \[module:unsealer\]") if line.endswith(KEYS_REFUSED)])
    assert [] == service.lines(r"\[(ERROR|WARN)\] \[module:unsealer\]", after=mark)
    refused = service.lines(r"\[ERROR\] \[module:unsealer\] .*; the next attempt tries another combination")
    assert 2 == len(refused)
    assert all(f"{WRONG_COMBINATION}; the next attempt tries another combination of the keys" in r for r in refused)
    assert [] == service.lines(r"\[WARN\] \[module:unsealer\]")
    assert 1 == scrape(port)[REFUSED_METRIC]
    health_file = Path(service_env["NEON_CM_HEALTH_FILE"])
    degraded = wait_until(
        lambda: result if (result := health_command(health_file)).stdout.startswith("degraded") else None,
        30,
        "`health` to say degraded",
    )
    status = cli("vault", "status", VAULT_CREDENTIALS=keys, NEON_CM_HEALTH_FILE=str(health_file))

    assert service.lines(rf"\[INFO\] \[module:main\] auto-unseal enabled: 3 keys, threshold 2, key set {key_set}$")
    assert (0, "") == (degraded.returncode, degraded.stderr)
    assert (
        f"degraded: the unseal keys (key set {key_set}) were refused by the Vault on manager-1 (rotated, or another "
        "cluster's): put its current keys in the credentials secret\n"
    ) == degraded.stdout
    assert 1 == scrape(port)[DEGRADED_METRIC]
    assert status.stdout.decode().endswith(
        f"\n\nunseal keys here: 3 keys, threshold 2, key set {key_set}\n"
        f"refused by the Vault on manager-1: every combination of key set {key_set} was refused (rotated, or "
        "another cluster's); put its current keys in the credentials secret\n"
    )
    for share in rotated.current[:2]:
        rotated.api("PUT", "/v1/sys/unseal", {"key": share})
    assert 0 == wait_for_metric(port, REFUSED_METRIC, lambda v: v == 0)
    assert 0 == wait_for_metric(port, DEGRADED_METRIC, lambda v: v == 0)
    assert "healthy\n" == wait_until(
        lambda: out if (out := health_command(health_file).stdout) == "healthy\n" else None, 30, "`health` healthy"
    )
    assert [] == [line for line in service.stdout if any(form in line for form in rotated.all_forms())]
