"""A Vault never initialised (an operator tryout: a new node whose `bao operator init` was forgotten), as the real
OpenBao answers: seal-status `initialized: false`, `t: 0`, and 400 `Vault is not initialized` to a share, before it
looks at the share. The service says it in one ERROR that tells the operator what to do, sends it no share, and keeps
saying the other Vaults' states; the unsealer's decider reads that 400 as the node's state, never as the keys'."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import consul
import pytest

from gateways.vault import VaultGateway
from messages.vault import VaultState
from neon_cm.credentials import Secret
from neon_cm.environment import TlsSettings
from neon_cm.keys import SETTINGS_PREFIX
from neon_cm.unsealing import about_the_key, combination_refused
from neon_cm.vault import NOT_INITIALIZED_WORDS, Rejected
from tests.bao_server import OwnBao
from tests.integration.conftest import credentials
from tests.integration.test_definition_pipeline import seed_base
from tests.prometheus_server import free_port
from tests.service import Service
from tests.waiting import scrape, wait_for_metric, wait_until

#: Three well-formed 32-byte shares of no Vault's.
SHARES = [base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3)]
STATE_METRIC = 'neon_cm_vault_state{node="manager-1",state="not-initialized"}'
ATTEMPTS_METRIC = 'neon_cm_vault_unseal_attempts_total{node="manager-1"}'


@pytest.fixture
def uninitialised(tmp_path: Path) -> Iterator[OwnBao]:
    server = OwnBao(tmp_path)
    yield server
    server.stop()


def test_the_real_openbao_refuses_a_share_to_an_uninitialised_node_for_the_nodes_sake(uninitialised: OwnBao) -> None:
    """What the decider relies on, from the real server: the probe says not-initialized with what to do, and a share
    is refused with `Vault is not initialized`, which is neither about the key nor a refused combination (the next poll
    tries again: not-initialized-refuses, the long run's seed 10419)."""
    node = VaultGateway(uninitialised.url, TlsSettings())
    try:
        probed = node.probe()
        answer = node.submit_share(Secret(SHARES[0]))
    finally:
        node.close()

    assert (VaultState.NOT_INITIALIZED, NOT_INITIALIZED_WORDS) == (probed.state, probed.detail)
    assert Rejected("Vault is not initialized") == answer
    assert (False, False) == (about_the_key(answer.message), combination_refused(answer.message))


def test_an_uninitialised_vault_is_one_error_saying_what_to_do_and_gets_no_share(
    uninitialised: OwnBao, start_service: Callable[..., Service], kv: consul.Consul
) -> None:
    """manager-1's Vault URL points at the uninitialised node (the other managers' addresses have nothing on its port:
    unreachable). Over 20 polls: one ERROR for it, with the words; the state gauge says not-initialized; no unseal
    attempt, no unsealer line, no share in the log. Once the operator initialises and unseals it, an INFO says so."""
    seed_base(kv)
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"http://{{addr}}:{uninitialised.port}")
    port = free_port()
    service = start_service(METRICS_PORT=str(port), VAULT_CREDENTIALS=credentials(SHARES, 2))
    error = (
        rf"\[ERROR\] \[module:vault-monitor:manager-1\] Vault on manager-1 \({re.escape(uninitialised.url)}\) is "
        rf"not-initialized: {re.escape(NOT_INITIALIZED_WORDS)}$"
    )
    service.wait_for(error)
    assert 1 == wait_for_metric(port, STATE_METRIC, lambda v: v == 1)
    polls = len(service.lines(r"\[DEBUG\] \[module:vault-monitor:manager-1\] .*: not-initialized\b"))
    wait_until(
        lambda: len(service.lines(r"\[DEBUG\] \[module:vault-monitor:manager-1\] .*: not-initialized\b")) >= polls + 20,
        60,
        "20 more polls of manager-1's Vault",
    )

    assert 1 == len(service.lines(error))
    assert [] == service.lines(r"\[module:unsealer\]")
    assert 0 == scrape(port).get(ATTEMPTS_METRIC, 0)
    init = uninitialised.api("PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
    uninitialised.api("PUT", "/v1/sys/unseal", {"key": init["keys_base64"][0]})
    service.wait_for(
        rf"\[INFO\] \[module:vault-monitor:manager-1\] Vault on manager-1 \({re.escape(uninitialised.url)}\) is "
        r"unsealed: active$"
    )
    shares = {*SHARES, *init["keys_base64"], init["root_token"]}
    assert [] == [line for line in service.stdout if any(share in line for share in shares)]
