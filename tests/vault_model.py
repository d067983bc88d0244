"""A model of one Vault node's seal (as tests/integration/test_vault_semantics.py pins the real OpenBao's), and a
driver that runs the Unsealer's decider against it on a clock of its own (pure: no thread, no network)."""

from __future__ import annotations

import itertools
from typing import Any

import attrs

from messages.leadership import BecameLeader
from messages.vault import UnsealFinished, UnsealRequested
from neon_cm.decider import Log, Publish, StartTimer, TimerFired
from neon_cm.unsealing import (
    AnswerMonitor,
    CancelAttempt,
    ReadSealStatus,
    ReadSwitch,
    ResetProgress,
    SubmitShare,
    SwitchRead,
    Unsealing,
    VaultAnswered,
)
from neon_cm.vault import NotSent, Rejected, SealStatus

#: What OpenBao says when the threshold is reached with a wrong share among them (seen on the real one).
WRONG_COMBINATION = (
    "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message "
    "authentication failed"
)


@attrs.define
class ModelVault:
    """Shares add up per attempt (nonce); the threshold ends the attempt whatever the result; a share already
    given is ignored; a malformed share is refused on its own; a raft follower answers sealed with progress 0
    for `lag` reads after the threshold, then unsealed."""

    threshold: int
    good: set[int]
    """The indexes of the credentials' shares that belong to this Vault."""
    malformed: set[int] = attrs.field(factory=set)
    sealed: bool = True
    given: list[int] = attrs.field(factory=list)
    nonce: str = ""
    follower_lag: int = 0
    silent: bool = False
    """A wrong combination is taken with 200, sealed, progress 0 (no 400): what a follower unsealing looks like."""
    lag: int = 0
    received: list[int] = attrs.field(factory=list)
    """Every share that reached it, in order."""
    nonces: Any = attrs.field(factory=lambda: itertools.count(1))

    def status(self) -> SealStatus:
        return SealStatus(True, self.sealed, self.threshold, len(self.given), self.nonce)

    def read(self) -> SealStatus:
        if self.lag:
            self.lag -= 1
            self.sealed = self.lag > 0
        return self.status()

    def share(self, index: int) -> SealStatus | Rejected:
        self.received.append(index)
        if not self.sealed:
            return self.status()
        if index in self.malformed:
            return Rejected("invalid key length")
        if index in self.given:
            return self.status()
        if not self.given:
            self.nonce = f"nonce-{next(self.nonces)}"
        self.given.append(index)
        if len(self.given) < self.threshold:
            return self.status()
        valid = all(given in self.good for given in self.given)
        self.given, self.nonce = [], ""
        if not valid:
            return self.status() if self.silent else Rejected(WRONG_COMBINATION)
        if self.follower_lag:
            self.lag = self.follower_lag
            return self.status()
        self.sealed = False
        return self.status()

    def reset(self) -> SealStatus:
        self.given, self.nonce = [], ""
        return self.status()


@attrs.define
class Run:
    """The Unsealer's decider against model Vaults, its effects carried out at once (timers by moving the clock)."""

    state: Unsealing
    vaults: dict[str, ModelVault]
    now: float = 0.0
    switch: str | None = None
    effects: list[Any] = attrs.field(factory=list)
    """Every effect decided, in order."""
    finished: list[UnsealFinished] = attrs.field(factory=list)
    cancelled: set[tuple[str, int]] = attrs.field(factory=set)
    sent_at: list[tuple[float, float]] = attrs.field(factory=list)
    """(when, lease deadline) of every share that reached a Vault."""

    @classmethod
    def leading(cls, share_count: int, vaults: dict[str, ModelVault], until: float = 1e9) -> Run:
        run = cls(Unsealing(share_count), vaults)
        run.feed(BecameLeader("me", "session-1", until))
        return run

    def feed(self, event: Any) -> None:
        pending = [event]
        while pending:
            self.state, effects = self.state.decide(pending.pop(0), self.now)
            self.effects.extend(effects)
            for effect in effects:
                answer = self.carry_out(effect)
                if answer is not None:
                    pending.append(answer)

    def request(self, hostname: str) -> UnsealFinished:
        """Ask for `hostname` and run until its attempt ends; its outcome."""
        before = len(self.finished)
        self.feed(UnsealRequested(hostname, f"http://{hostname}:8200"))
        return self.finished[before]

    def carry_out(self, effect: Any) -> Any:
        if isinstance(effect, ReadSwitch):
            return SwitchRead(effect.hostname, effect.url, self.switch)
        if isinstance(effect, ReadSealStatus):
            return VaultAnswered(effect.hostname, effect.attempt, self.vaults[effect.hostname].read())
        if isinstance(effect, (SubmitShare, ResetProgress)):
            if (effect.hostname, effect.attempt) in self.cancelled or self.now >= effect.not_after:
                return VaultAnswered(effect.hostname, effect.attempt, NotSent("not sent"))
            vault = self.vaults[effect.hostname]
            if isinstance(effect, ResetProgress):
                return VaultAnswered(effect.hostname, effect.attempt, vault.reset())
            self.sent_at.append((self.now, effect.not_after))
            return VaultAnswered(effect.hostname, effect.attempt, vault.share(effect.index))
        if isinstance(effect, CancelAttempt):
            self.cancelled.add((effect.hostname, effect.attempt))
        elif isinstance(effect, AnswerMonitor):
            self.finished.append(effect.finished)
        elif isinstance(effect, StartTimer) and effect.key.startswith("follower:"):
            self.now += effect.seconds
            return TimerFired(effect.key)
        return None

    def lines(self) -> list[str]:
        return [effect.text for effect in self.effects if isinstance(effect, Log)]

    def published(self) -> list[Any]:
        return [effect.message for effect in self.effects if isinstance(effect, Publish)]
