"""Soak: many faults in a row with nothing lost. Marked `soak`, not in the default run:
`scripts/test -m soak tests/integration/test_soak.py -s`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.encoding import verify_definition
from neon_cm.keys import SETTINGS_PREFIX
from tests.integration.test_definition_pipeline import PUBLISHED, read_definition, seed_base
from tests.service import Service

VAULT_RESTARTS = 50
CONSUL_RESTARTS = 5


@pytest.mark.soak
def test_fifty_vault_restarts_and_five_consul_restarts_lose_nothing(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    with_keys: dict[str, str],
    labels: Callable[..., None],
) -> None:
    """Each restarted Vault node is unsealed by the service; after each Consul restart (a dev agent comes back
    empty) the definition is published again with every label; the process runs throughout."""
    seed_base(kv)
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")
    unseal_seconds = []
    for n in range(VAULT_RESTARTS):
        node = n % 3
        stack.vault_restart(node)
        started = time.monotonic()
        deadline = started + 30
        while stack.vault_seal_status(node)["sealed"]:
            assert time.monotonic() < deadline, f"restart {n}: manager-{node + 1} still sealed after 30 s"
            time.sleep(0.05)
        unseal_seconds.append(time.monotonic() - started)
    for n in range(CONSUL_RESTARTS):
        mark = service.mark()
        labels("worker-1", f"soak.consul{n}", str(n))
        stack.consul_restart()
        kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
        kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "1")
        kv.kv.put(SETTINGS_PREFIX + "vault_url_template", "http://{addr}:8200")
        seed_base(kv)
        service.wait_for(PUBLISHED, after=mark, timeout=60)
        definition, digest, _, _ = read_definition(kv)
        assert verify_definition(definition, digest)
        assert all(
            str(k) == definition["Nodes"]["worker-1"]["Labels"]["Custom"][f"soak.consul{k}"] for k in range(n + 1)
        )

    assert service.process.poll() is None
    assert [] == service.lines(r"\[module:supervisor")
    median = sorted(unseal_seconds)[len(unseal_seconds) // 2]
    print(
        f"{VAULT_RESTARTS} Vault restarts: sealed to unsealed median {median:.2f} s, max {max(unseal_seconds):.2f} s; "
        f"{CONSUL_RESTARTS} Consul restarts: definition republished each time"
    )
