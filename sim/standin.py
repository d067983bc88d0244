"""The sim's own deciders: a stand-in for the SettingsWatcher (whose settings the sim fixes), and the old Unsealer
(before issue 17) that `World(old={5, 11})` runs instead of neon_cm/unsealing.py to show defects 5 and 11.

Each has the decider shape (neon_cm/decider.py).
"""

from __future__ import annotations

from typing import Any

import attrs

from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.vault import UnsealFinished, UnsealRequested
from neon_cm.decider import Decision, Publish, StartTimer, TimerFired, log

# --------------------------------------------------------------------------- effects and events of the sim shells


@attrs.frozen
class Started:
    """Event: the actor's shell started."""


@attrs.frozen
class TellMonitor:
    """Effect: tell the monitor of `hostname` `message` (the Unsealer's answer, the fleet's ReportingRole)."""

    hostname: str
    message: Any


# --------------------------------------------------------------------------- settings (actors/settings_watcher.py)


@attrs.frozen
class SettingsSource:
    """Stands in for the SettingsWatcher: the settings the sim sets, told at start, on a change, and as its view."""

    settings: Settings

    def view(self) -> SettingsChanged:
        return SettingsChanged(self.settings)

    def decide(self, event: object, now: float) -> Decision[SettingsSource]:
        if isinstance(event, Started):
            return self, (Publish(SettingsChanged(self.settings)),)
        if isinstance(event, SettingsChanged) and event.settings != self.settings:
            # The sim's stand-in for a change of the settings keys in Consul.
            return attrs.evolve(self, settings=event.settings), (Publish(event),)
        return self, ()


# --------------------------------------------------------------------------- the old Unsealer (before issue 17)


@attrs.frozen
class ReadSeal:
    """Effect: GET /v1/sys/seal-status of `hostname`. Answer: SealRead."""

    hostname: str


@attrs.frozen
class SendShare:
    """Effect: PUT /v1/sys/unseal on `hostname` with the share at `index` of the credentials. Answer: SealRead."""

    hostname: str
    index: int


@attrs.frozen
class ResetSeal:
    """Effect: PUT /v1/sys/unseal {"reset": true} on `hostname`. Answer: SealRead."""

    hostname: str


@attrs.frozen
class SealRead:
    """Answer: a seal-status body (None fields when the call failed: `error` says why)."""

    hostname: str
    sealed: bool = True
    threshold: int = 0
    progress: int = 0
    error: str = ""
    rejected: bool = False


@attrs.frozen
class OldAttempt:
    hostname: str
    submitted: int = 0
    reset_done: bool = False
    waited: float | None = None


@attrs.frozen
class OldUnsealer:
    """The Unsealer before issue 17 (actors/unsealer.py + neon_cm/vault.py's UnsealAttempt), as a decider: the
    lock checked when an attempt starts only (defect 5), shares always tried in the credentials' order, and
    progress 0 after a share taken for a raft follower finishing (defect 11)."""

    share_count: int
    leading: bool = False
    attempts: tuple[tuple[str, OldAttempt], ...] = ()

    def attempt(self, hostname: str) -> OldAttempt | None:
        return dict(self.attempts).get(hostname)

    def with_attempt(self, attempt: OldAttempt | None, hostname: str) -> OldUnsealer:
        rest = tuple((name, a) for name, a in self.attempts if name != hostname)
        return attrs.evolve(self, attempts=rest if attempt is None else (*rest, (hostname, attempt)))

    def decide(self, event: object, now: float) -> Decision[OldUnsealer]:
        if isinstance(event, BecameLeader):
            return attrs.evolve(self, leading=True), ()
        if isinstance(event, (LostLeadership, StandingBy)):
            return attrs.evolve(self, leading=False), ()  # attempts already running go on (defect 5)
        if isinstance(event, LeaseExtended):
            return self, ()
        if isinstance(event, UnsealRequested):
            if not self.leading:
                return self, (TellMonitor(event.hostname, UnsealFinished(event.hostname, False, "not leading")),)
            if self.attempt(event.hostname) is not None:
                return self, ()
            return self.with_attempt(OldAttempt(event.hostname), event.hostname), (ReadSeal(event.hostname),)
        if isinstance(event, TimerFired) and event.key.startswith("follower:"):
            return self, (ReadSeal(event.key.removeprefix("follower:")),)
        if isinstance(event, SealRead):
            attempt = self.attempt(event.hostname)
            if attempt is not None:
                return self.step(attempt, event, now)
        return self, ()

    def finish(self, hostname: str, unsealed: bool, reason: str) -> Decision[OldUnsealer]:
        effects: list[Any] = [TellMonitor(hostname, UnsealFinished(hostname, unsealed, reason))]
        if not unsealed:
            effects.insert(0, log(Level.ERROR, f"{hostname}: {reason}"))
        return self.with_attempt(None, hostname), tuple(effects)

    def step(self, attempt: OldAttempt, status: SealRead, now: float) -> Decision[OldUnsealer]:
        host = attempt.hostname
        if status.error:
            return self.finish(host, False, status.error)
        if not status.sealed:
            return self.finish(host, True, "")
        if attempt.submitted == 0 and status.progress > 0:
            if attempt.reset_done:
                return self.finish(host, False, "another client keeps submitting shares")
            return self.with_attempt(attrs.evolve(attempt, reset_done=True), host), (ResetSeal(host),)
        if attempt.submitted > 0 and status.progress == 0:
            waited = attempt.waited if attempt.waited is not None else now
            if now - waited > 3.0:
                return self.finish(host, False, "still unsealing")
            return self.with_attempt(attrs.evolve(attempt, waited=waited), host), (
                StartTimer(f"follower:{host}", 0.25),
            )
        if attempt.submitted >= self.share_count:
            return self.finish(host, False, "all unseal keys submitted and Vault is still sealed")
        return self.with_attempt(attrs.evolve(attempt, submitted=attempt.submitted + 1), host), (
            SendShare(host, attempt.submitted),
        )
