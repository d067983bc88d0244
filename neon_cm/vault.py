"""Vault seal states, URLs per manager, and the unseal procedure as a pure state machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from messages.swarm import SwarmNode
from messages.vault import VaultState


def vault_url(template: str, node: SwarmNode) -> str | None:
    """A manager's Vault URL from the `vault_url_template` setting.

    None while the template needs `{addr}` and the node has no manager address yet (a
    promotion takes Docker a while to complete).
    """
    if "{addr}" in template and not node.manager_addr:
        return None
    return template.format(hostname=node.hostname.lower(), addr=node.manager_addr).rstrip("/")


@attrs.frozen
class SealStatus:
    """The fields of `GET /v1/sys/seal-status` (and of unseal responses) the service uses."""

    initialized: bool
    sealed: bool
    threshold: int
    progress: int
    nonce: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SealStatus:
        """Parse a seal-status body; ValueError when it is not one."""
        try:
            initialized, sealed = body["initialized"], body["sealed"]
            threshold, progress = body.get("t", 0), body.get("progress", 0)
        except (KeyError, TypeError):
            raise ValueError("not a seal-status body") from None
        if not all(isinstance(flag, bool) for flag in (initialized, sealed)) or not all(
            isinstance(number, int) for number in (threshold, progress)
        ):
            raise ValueError("seal-status fields have the wrong types")
        return cls(initialized, sealed, threshold, progress, str(body.get("nonce") or ""))

    @property
    def state(self) -> VaultState:
        if not self.initialized:
            return VaultState.NOT_INITIALIZED
        return VaultState.SEALED if self.sealed else VaultState.UNSEALED


def health_role(body: Mapping[str, Any]) -> str:
    """`active` or `standby` from a `GET /v1/sys/health` body (asked with standbyok, so standby answers 200)."""
    return "standby" if body.get("standby") else "active"


@attrs.frozen
class Submit:
    """Submit the share at `index` of the credentials."""

    index: int


@attrs.frozen
class Reset:
    """Discard a partial attempt someone else left (progress > 0 before any share of ours)."""


@attrs.frozen
class Wait:
    """Threshold reached but still sealed with progress 0: a raft follower unsealing in the background."""


@attrs.frozen
class Finished:
    """Stop: `unsealed` says whether the node is unsealed, `reason` why not."""

    unsealed: bool
    reason: str = ""


Step = Submit | Reset | Wait | Finished


@attrs.define
class UnsealAttempt:
    """Decides the next step of unsealing one node from each seal status read.

    Distinct shares are submitted one at a time; the attempt stops as soon as the node
    is unsealed; progress 0 after our shares is not a failure; a partial attempt that
    is not ours is reset first.
    """

    share_count: int
    """How many distinct shares the credentials hold."""
    submitted: int = 0
    """Shares of ours submitted so far."""
    reset_done: bool = False

    def next_step(self, status: SealStatus) -> Step:
        if not status.initialized:
            return Finished(False, "Vault is not initialized; it cannot be unsealed")
        if not status.sealed:
            return Finished(True)
        if self.submitted == 0 and status.progress > 0:
            if self.reset_done:
                return Finished(False, "another client keeps submitting shares; leaving it alone")
            self.reset_done = True
            return Reset()
        if self.submitted > 0 and status.progress == 0:
            return Wait()
        if self.submitted >= self.share_count:
            return Finished(False, f"all {self.share_count} unseal keys submitted and Vault is still sealed")
        self.submitted += 1
        return Submit(self.submitted - 1)
