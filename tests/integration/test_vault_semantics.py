"""The Vault answers the monitor's and Unsealer's deciders (and tests/vault_model.py) rely on, pinned on the real
OpenBao of the stack, through the service's own Vault gateway."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

import teststack as stack
from gateways.vault import VaultGateway
from messages.vault import VaultState
from neon_cm.credentials import Secret
from neon_cm.environment import TlsSettings
from neon_cm.vault import HealthRole, Observation, Rejected, SealStatus
from tests.vault_model import WRONG_COMBINATION

MANAGER_2 = 1  # index of manager-2's OpenBao node: a raft follower


@pytest.fixture
def sealed_node(vault: dict[str, Any]) -> Iterator[VaultGateway]:
    """manager-2's OpenBao restarted (so sealed) and initialised as far as it knows; unsealed again after."""
    stack.vault_restart(MANAGER_2)
    node = VaultGateway(vault["nodes"][MANAGER_2]["url"], TlsSettings())
    deadline = time.monotonic() + 30
    while not (isinstance(status := node.seal_status(), SealStatus) and status.initialized):
        assert time.monotonic() < deadline, f"{status} after 30 s"
        time.sleep(0.2)
    yield node
    node.close()


def share(vault: dict[str, Any], index: int) -> Secret:
    return Secret(vault["keys_base64"][index])


def seal(answer: object) -> tuple[bool, bool, int, int, str]:
    """The attempt's part of a seal status: initialized, sealed, t, progress, nonce."""
    assert isinstance(answer, SealStatus), answer
    return answer.initialized, answer.sealed, answer.threshold, answer.progress, answer.nonce


NO_ATTEMPT = (True, True, 2, 0, "")


def test_a_sealed_node_says_so_with_its_threshold_and_no_attempt(sealed_node: VaultGateway) -> None:
    """Restarted: sealed, initialised, t=2, progress 0, nonce "" (no attempt); a Shamir seal, no recovery seal, a
    build or commit date (issue 19: what tells an auto seal, and which fields OpenBao has)."""
    status = sealed_node.seal_status()

    assert NO_ATTEMPT == seal(status)
    assert isinstance(status, SealStatus)
    assert ("shamir", False, False) == (status.seal_type, status.recovery_seal, status.removed_from_cluster)
    assert "" != status.built
    assert Observation(VaultState.SEALED, "0/2 unseal keys submitted", seal_type="shamir") == sealed_node.probe()


def test_one_share_opens_an_attempt_a_repeated_share_is_ignored_a_reset_discards_it(
    sealed_node: VaultGateway, vault: dict[str, Any]
) -> None:
    """After one share: progress 1 and a nonce; the same share again: nothing changes; reset: progress 0, no
    nonce; the next share opens an attempt with another nonce (how the Unsealer tells a reset from a follower)."""
    first = sealed_node.submit_share(share(vault, 0))
    again = sealed_node.submit_share(share(vault, 0))
    reset = sealed_node.reset()
    reopened = sealed_node.submit_share(share(vault, 0))

    assert isinstance(first, SealStatus) and (True, 1) == (first.sealed, first.progress) and first.nonce
    assert first == again
    assert NO_ATTEMPT == seal(reset)
    assert isinstance(reopened, SealStatus) and 1 == reopened.progress and reopened.nonce != first.nonce
    assert (True, True, 2, 1, reopened.nonce) == seal(sealed_node.seal_status())


def test_wrong_shares_are_refused_once_the_threshold_is_reached_and_the_attempt_ends(
    sealed_node: VaultGateway,
) -> None:
    """Well-formed shares of another cluster: the first is taken (progress 1), the one reaching the threshold is
    refused with 400 and "message authentication failed"; the attempt is over (progress 0)."""
    wrong = [Secret(base64.b64encode(bytes([n]) * 33).decode()) for n in (1, 2)]

    taken = sealed_node.submit_share(wrong[0])
    refused = sealed_node.submit_share(wrong[1])

    assert isinstance(taken, SealStatus) and 1 == taken.progress
    assert Rejected(WRONG_COMBINATION) == refused
    assert NO_ATTEMPT == seal(sealed_node.seal_status())


def test_one_wrong_share_among_the_threshold_fails_the_whole_attempt(
    sealed_node: VaultGateway, vault: dict[str, Any]
) -> None:
    """A right share and a wrong one: refused as a combination; another subset of the right shares then unseals
    (what the Unsealer's next attempt does)."""
    sealed_node.submit_share(Secret(base64.b64encode(bytes([7]) * 33).decode()))

    assert Rejected(WRONG_COMBINATION) == sealed_node.submit_share(share(vault, 0))
    sealed_node.submit_share(share(vault, 1))
    last = sealed_node.submit_share(share(vault, 2))
    assert isinstance(last, SealStatus) and 0 == last.progress


def test_a_raft_follower_unseals_in_the_background_after_the_threshold(
    sealed_node: VaultGateway, vault: dict[str, Any]
) -> None:
    """The share reaching the threshold ends the attempt: progress 0, sealed or not yet; the node then reports
    unsealed by itself, and its health says standby."""
    sealed_node.submit_share(share(vault, 1))
    last = sealed_node.submit_share(share(vault, 2))
    deadline = time.monotonic() + 30
    while not (isinstance(status := sealed_node.seal_status(), SealStatus) and not status.sealed):
        assert time.monotonic() < deadline, f"{status} 30 s after the threshold"
        time.sleep(0.1)

    assert isinstance(last, SealStatus) and (0, "") == (last.progress, last.nonce)
    assert HealthRole("standby") == sealed_node.health()


def test_a_restarted_raft_member_is_unsealed_by_the_share_reaching_the_threshold(
    sealed_node: VaultGateway, vault: dict[str, Any]
) -> None:
    """A node already in its raft cluster, restarted, unseals in the call that reaches the threshold: `sealed: false`
    in that answer (OpenBao's unsealFragment -> unsealInternal). Only a node still joining (unsealWithRaft) answers
    sealed with progress 0 and unseals in the background; sim/vault.py's followers do that at every restart, which is
    harsher than this (helper w4914: 3 of 3 restarts, 4-10 ms)."""
    sealed_node.submit_share(share(vault, 0))
    last = sealed_node.submit_share(share(vault, 1))

    assert isinstance(last, SealStatus) and (False, 0, "") == (last.sealed, last.progress, last.nonce)


def test_a_share_of_the_wrong_length_is_refused_on_its_own(sealed_node: VaultGateway) -> None:
    """A share that cannot be one (5 bytes) is refused at once with 400, before any threshold: the Unsealer leaves
    such a share out of later attempts."""
    refused = sealed_node.submit_share(Secret(base64.b64encode(b"short").decode()))

    assert isinstance(refused, Rejected)
    assert NO_ATTEMPT == seal(sealed_node.seal_status())
