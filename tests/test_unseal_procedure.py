"""The unseal procedure (neon_cm/unsealing.py) against a model of Vault's seal (pure logic), and Vault URLs."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from messages.swarm import SwarmNode
from messages.vault import UnsealFinished
from neon_cm.unsealing import FOLLOWER_WAIT_SECONDS, SubmitShare
from neon_cm.vault import SealStatus, vault_url
from tests.vault_model import ModelVault, Run


def shares_sent(run: Run) -> list[int]:
    return [effect.index for effect in run.effects if isinstance(effect, SubmitShare)]


def test_submits_distinct_shares_until_unsealed() -> None:
    """Share 0, then share 1, then stop as soon as sealed is false."""
    run = Run.leading(3, {"m1": ModelVault(2, {0, 1, 2})})

    finished = run.request("m1")

    assert UnsealFinished("m1", True, "") == finished
    assert [0, 1] == shares_sent(run)
    assert "unsealed the Vault on m1 (http://m1:8200) with 2 keys" in run.lines()


def test_progress_zero_after_the_threshold_is_a_follower_finishing_not_a_failure() -> None:
    """A raft follower answers sealed with progress 0 after the threshold: poll it, it unseals."""
    run = Run.leading(3, {"m1": ModelVault(2, {0, 1, 2}, follower_lag=3)})

    finished = run.request("m1")

    assert finished.unsealed
    assert [0, 1] == shares_sent(run)
    assert "unsealed the Vault on m1 (http://m1:8200) with 2 keys" in run.lines()


def test_a_follower_that_takes_too_long_is_left_to_the_next_poll() -> None:
    """Still sealed with progress 0 after FOLLOWER_WAIT_SECONDS: not a failure said at ERROR, checked next poll."""
    run = Run.leading(3, {"m1": ModelVault(2, {0, 1, 2}, follower_lag=1000)})

    finished = run.request("m1")

    assert UnsealFinished("m1", False, "still unsealing") == finished
    assert run.now >= FOLLOWER_WAIT_SECONDS
    assert "m1: still unsealing in the background; checking at next poll" in run.lines()


def test_partial_attempt_of_another_client_is_reset_first() -> None:
    """Progress before any share of ours is someone else's attempt: reset it, then unseal."""
    vault = ModelVault(3, {0, 1, 2, 3})
    vault.share(3)
    run = Run.leading(3, {"m1": vault})

    finished = run.request("m1")

    assert finished.unsealed
    assert "m1: a partial unseal attempt that is not ours (1/3) is there; resetting it" in run.lines()
    assert [3, 0, 1, 2] == vault.received


def test_not_initialized_is_not_unsealed() -> None:
    """An uninitialised Vault is not unsealed, and no share is sent to it."""

    @attrs.define
    class Uninitialized(ModelVault):
        def status(self) -> SealStatus:
            return SealStatus(False, True, 0, 0, "")

    run = Run.leading(2, {"m1": Uninitialized(2, {0, 1})})

    assert UnsealFinished("m1", False, "Vault is not initialized; it cannot be unsealed") == run.request("m1")
    assert [] == shares_sent(run)


@given(st.integers(1, 5), st.data())
def test_against_a_model_vault(shares: int, data: st.DataObject) -> None:
    """With valid, distinct shares and any threshold up to their number, the attempt unseals and sends exactly
    `threshold` shares, each once (duplicates never advance progress, so none are sent)."""
    threshold = data.draw(st.integers(1, shares))
    vault = ModelVault(threshold, set(range(shares)), follower_lag=data.draw(st.integers(0, 3)))
    run = Run.leading(shares, {"m1": vault})

    finished = run.request("m1")

    assert finished.unsealed
    assert list(range(threshold)) == vault.received


def test_vault_url_waits_for_a_manager_address_when_the_template_needs_it() -> None:
    """`{addr}` is the host of ManagerStatus.Addr; without one (promotion under way) there is no URL yet."""
    promoted = SwarmNode("id", "Manager-3", "manager", "10.0.0.3", manager_addr="")
    assert vault_url("http://{addr}:8200", promoted) is None
    assert "https://manager-3.neon-vault.cluster:8200" == vault_url(
        "https://{hostname}.neon-vault.cluster:8200", promoted
    )
    assert "http://10.0.0.13:8200" == vault_url("http://{addr}:8200/", attrs.evolve(promoted, manager_addr="10.0.0.13"))
