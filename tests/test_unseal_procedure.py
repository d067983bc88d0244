"""The unseal procedure as a state machine, driven by a model of Vault's seal state (pure logic)."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from messages.swarm import SwarmNode
from neon_cm.vault import Finished, Reset, SealStatus, Submit, UnsealAttempt, Wait, vault_url


def status(sealed: bool = True, progress: int = 0, threshold: int = 2, initialized: bool = True) -> SealStatus:
    return SealStatus(initialized, sealed, threshold, progress, "n" if progress else "")


def test_submits_distinct_shares_until_unsealed() -> None:
    """Share 0, then share 1, then stop as soon as sealed is false."""
    attempt = UnsealAttempt(3)

    assert Submit(0) == attempt.next_step(status(progress=0))
    assert Submit(1) == attempt.next_step(status(progress=1))
    assert Finished(True) == attempt.next_step(status(sealed=False))


def test_progress_zero_after_our_shares_is_waiting_not_failure() -> None:
    """A raft follower answers sealed with progress 0 after the threshold: keep polling."""
    attempt = UnsealAttempt(3)
    attempt.next_step(status())
    attempt.next_step(status(progress=1))

    assert Wait() == attempt.next_step(status(progress=0))


def test_partial_attempt_of_another_client_is_reset_once() -> None:
    """Progress before any share of ours is someone else's attempt: reset it, once."""
    attempt = UnsealAttempt(3)

    assert Reset() == attempt.next_step(status(progress=1))
    assert Submit(0) == attempt.next_step(status(progress=0))
    other = UnsealAttempt(3)
    other.next_step(status(progress=1))
    assert isinstance(other.next_step(status(progress=1)), Finished)


def test_not_initialized_and_exhausted_shares_finish_unsealed_false() -> None:
    """An uninitialised Vault is not unsealed; running out of shares is a failure with a reason."""
    attempt = UnsealAttempt(1)

    assert not attempt.next_step(status(initialized=False, threshold=0)).unsealed  # type: ignore[union-attr]
    attempt.next_step(status())
    assert Finished(False, "all 1 unseal keys submitted and Vault is still sealed") == attempt.next_step(
        status(progress=1, threshold=3)
    )


@given(st.integers(1, 5), st.data())
def test_against_a_model_vault(shares: int, data: st.DataObject) -> None:
    """With valid, distinct shares and any threshold up to their number, the attempt unseals and each share
    is submitted at most once (duplicates never advance progress, so none are sent)."""
    threshold = data.draw(st.integers(1, shares))
    attempt = UnsealAttempt(shares)
    received: list[int] = []
    current = status(threshold=threshold)
    for _ in range(shares + 2):
        step = attempt.next_step(current)
        if isinstance(step, Finished):
            break
        assert isinstance(step, Submit)
        received.append(step.index)
        sealed = len(set(received)) < threshold
        current = status(sealed=sealed, progress=len(received) if sealed else 0, threshold=threshold)

    assert Finished(True) == step
    assert list(range(threshold)) == received


def test_vault_url_waits_for_a_manager_address_when_the_template_needs_it() -> None:
    """`{addr}` is the host of ManagerStatus.Addr; without one (promotion under way) there is no URL yet."""
    promoted = SwarmNode("id", "Manager-3", "manager", "10.0.0.3", manager_addr="")
    assert vault_url("http://{addr}:8200", promoted) is None
    assert "https://manager-3.neon-vault.cluster:8200" == vault_url(
        "https://{hostname}.neon-vault.cluster:8200", promoted
    )
    assert "http://10.0.0.13:8200" == vault_url("http://{addr}:8200/", attrs.evolve(promoted, manager_addr="10.0.0.13"))
