"""A simulated Vault (OpenBao) node: seal state, Shamir shares with a threshold, progress and nonce, reset,
wrong shares rejected with 400 at the threshold, raft followers that finish unsealing in the background,
restarts (back sealed), partial unseals by someone else, and garbage answers (503 with a body `null`).

It answers as OpenBao 2.7 does (docs/interfaces.md, docs/design-vault.md), checked against the real one by
tests/test_sim_servers.py and tests/integration/test_vault_semantics.py.
"""

from __future__ import annotations

from typing import Any

from sim.consul import NO_ANSWER, Reply

WRONG_SHARE = (
    "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: "
    "cipher: message authentication failed"
)


class SimVault:
    """One node of the cluster; `shares` are the cluster's valid shares (any `threshold` of them unseal it)."""

    def __init__(self, hostname: str, shares: tuple[str, ...], threshold: int, follower_delay: float) -> None:
        self.hostname = hostname
        self.shares = shares
        self.threshold = threshold
        self.follower_delay = follower_delay
        """How long this node takes to unseal in the background once the threshold is reached (0: at once)."""
        self.sealed = True
        self.attempt: list[str] = []
        self.nonce = ""
        self.nonces = 0
        self.unsealing_at: float | None = None
        self.refused = 0
        """Attempts refused at the threshold (a wrong share among them)."""
        self.garbage_until = 0.0
        self.hung_until = 0.0
        self.sealed_since: float | None = 0.0
        """When it last became sealed (None while unsealed): what the reporting invariant times."""
        self.joined_through: SimVault | None = None
        """After a whole-cluster restart, the node this one joins through (retry_join): while that one is sealed,
        this one says `initialized: false` (seen on OpenBao 2.7; it is not a node that lost its storage)."""

    # ------------------------------------------------------------------ faults

    def restart(self, now: float) -> None:
        """The process restarts: it comes back sealed, any attempt forgotten."""
        self.settle(now)
        if not self.sealed:
            self.sealed_since = now
        self.sealed, self.attempt, self.nonce, self.unsealing_at = True, [], "", None

    def settle(self, now: float) -> None:
        """A follower unsealing in the background finishes."""
        if self.unsealing_at is not None and now >= self.unsealing_at:
            self.sealed, self.unsealing_at, self.sealed_since = False, None, None

    def answers(self, now: float) -> bool:
        """False while hung (the caller times out)."""
        return now >= self.hung_until

    # ------------------------------------------------------------------ API

    @property
    def initialized(self) -> bool:
        if self.joined_through is not None and not self.joined_through.sealed:
            self.joined_through = None  # it joined: initialized from now on
        return self.joined_through is None

    def status_body(self) -> dict[str, Any]:
        initialized = self.initialized
        return {
            "type": "shamir",
            "initialized": initialized,
            "sealed": self.sealed,
            "t": self.threshold if initialized else 0,
            "n": len(self.shares) if initialized else 0,
            "progress": len(self.attempt),
            "nonce": self.nonce,
            "version": "2.7.2",
        }

    def seal_status(self, now: float) -> Reply:
        """GET /v1/sys/seal-status."""
        self.settle(now)
        if not self.answers(now):
            return NO_ANSWER
        if now < self.garbage_until:
            return Reply(503, None)
        return Reply(200, self.status_body())

    def health(self, now: float, active: bool) -> Reply:
        """GET /v1/sys/health?standbyok=true: 200 with `standby` in the body."""
        self.settle(now)
        if not self.answers(now):
            return NO_ANSWER
        if now < self.garbage_until:
            return Reply(503, None)
        return Reply(200, {"initialized": self.initialized, "sealed": self.sealed, "standby": not active})

    def unseal(self, now: float, share: str | None, reset: bool = False) -> Reply:
        """PUT /v1/sys/unseal with one share, or `{"reset": true}`."""
        self.settle(now)
        if not self.answers(now):
            return NO_ANSWER
        if now < self.garbage_until:
            return Reply(503, None)
        if reset:
            if not self.sealed:
                return Reply(400, {"errors": ["vault is unsealed"]})
            self.attempt, self.nonce = [], ""
            return Reply(200, self.status_body())
        if not self.initialized:
            return Reply(400, {"errors": ["Vault is not initialized"]})
        if not self.sealed or self.unsealing_at is not None:
            return Reply(200, self.status_body())
        if not share:
            return Reply(400, {"errors": ["'key' must be specified in request body as JSON, or 'reset' set to true"]})
        if share in self.attempt:
            return Reply(200, self.status_body())  # a share it already has: ignored
        if not self.attempt:
            self.nonces += 1
            self.nonce = f"nonce-{self.hostname}-{self.nonces}"
        self.attempt.append(share)
        if len(self.attempt) < self.threshold:
            return Reply(200, self.status_body())
        valid = all(given in self.shares for given in self.attempt)
        self.attempt, self.nonce = [], ""  # the attempt ends whatever the result
        if not valid:
            self.refused += 1
            return Reply(400, {"errors": [WRONG_SHARE]})
        if self.follower_delay > 0:
            self.unsealing_at = now + self.follower_delay
            return Reply(200, self.status_body())  # sealed, progress 0: it unseals in the background
        self.sealed, self.sealed_since = False, None
        return Reply(200, self.status_body())
