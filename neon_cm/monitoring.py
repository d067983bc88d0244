"""The Vault monitor's decisions for one manager: when to poll, what each reading means, who reports it, when
to remind, and when to ask the Unsealer."""

from __future__ import annotations

from typing import Any

import attrs

from messages.log import Level
from messages.timing import SetInterval
from messages.vault import ReportingRole, UnsealFinished, UnsealRequested, VaultObserved, VaultState
from neon_cm.decider import Decision, Publish, StartTimer, TimerFired, log

#: While a Vault stays in a problem state, its ERROR is repeated this often (downstream alerting keeps firing).
REMINDER_SECONDS = 30 * 60.0
#: An unseal request with no answer for this long is asked again (the Unsealer may have been restarted and
#: forgotten it).
UNSEAL_ANSWER_SECONDS = 60.0
#: A problem seen before this instance knows whether it reports or stands by waits this long at most for
#: the answer, so a standby starting up does not report at ERROR what its active peer reports.
ROLE_WAIT_SECONDS = 5.0

#: Timer keys.
POLL = "poll"
ROLE_WAIT = "role-wait"


@attrs.frozen
class MonitorStarted:
    """Event: the monitor's shell is up; the first poll is due at once."""


@attrs.frozen
class Probe:
    """Effect: read the Vault's state (GET /v1/sys/seal-status, and /v1/sys/health when unsealed)."""


@attrs.frozen
class Probed:
    """Event: what the probe found."""

    state: VaultState
    detail: str
    unsealable: bool = True
    """False for a Vault no share may be submitted to (an auto seal, a node removed from its cluster)."""
    seal_type: str = ""
    """The seal's type, "" when the Vault did not say."""


@attrs.frozen
class AskUnsealer:
    """Effect: tell the Unsealer `request` (it answers the node's monitor by name)."""

    request: UnsealRequested


@attrs.frozen
class UnsealerAbsent:
    """Event: the request could not be told (no Unsealer running): ask again at the next poll."""


@attrs.frozen
class VaultMonitoring:
    """One manager's Vault, as its monitor decides about it."""

    hostname: str
    url: str
    interval: float
    """Seconds from the start of one poll to the start of the next (`vault_poll_seconds`)."""
    role: ReportingRole | None = None
    """Whether this instance reports (standby_of None) or stands by; None until Leadership has said."""
    started: float = 0.0
    polled_at: float | None = None
    """When the last poll started."""
    last: VaultObserved | None = None
    problem: VaultState | None = None
    """The problem last reported (or told at INFO on a standby); None while there is none."""
    reported_at: float = 0.0
    held: bool = False
    """A problem seen while the role is unknown waits (at most ROLE_WAIT_SECONDS from start) to be reported."""
    unseal_asked_at: float | None = None
    """When the outstanding unseal request was made; None when none is."""

    def decide(self, event: Any, now: float) -> Decision[VaultMonitoring]:
        if isinstance(event, MonitorStarted):
            return attrs.evolve(self, started=now), (
                log(Level.DEBUG, f"monitoring {self.url} every {self.interval:g} s"),
                StartTimer(POLL, 0.0),
            )
        if event == TimerFired(POLL):
            return attrs.evolve(self, polled_at=now), (Probe(),)
        if isinstance(event, Probed):
            return self.observed(event, now)
        if event == TimerFired(ROLE_WAIT):
            if self.held and self.last is not None:
                return attrs.evolve(self, held=False).report(self.last, now)
            return self, ()
        if isinstance(event, ReportingRole):
            return self.role_told(event, now)
        if isinstance(event, SetInterval):
            since = self.polled_at if self.polled_at is not None else now
            return attrs.evolve(self, interval=event.seconds), (
                StartTimer(POLL, max(0.0, since + event.seconds - now)),
            )
        if isinstance(event, UnsealFinished):
            after = attrs.evolve(self, unseal_asked_at=None)
            if event.unsealed:  # see it unsealed now, not at the next poll
                return attrs.evolve(after, polled_at=now), (Probe(),)
            return after, ()
        if isinstance(event, UnsealerAbsent):
            return attrs.evolve(self, unseal_asked_at=None), ()
        return self, ()

    def role_told(self, role: ReportingRole, now: float) -> Decision[VaultMonitoring]:
        after = attrs.evolve(self, role=role)
        if role.standby_of is None and self.role is not None and self.role.standby_of is not None:
            after = attrs.evolve(after, problem=None)  # now the one that reports: a problem still there is news here
        if self.held and self.last is not None:
            return attrs.evolve(after, held=False).report(self.last, now)
        return after, ()

    def observed(self, probed: Probed, now: float) -> Decision[VaultMonitoring]:
        reading = VaultObserved(self.hostname, self.url, probed.state, probed.detail, probed.seal_type)
        effects: list[Any] = [log(Level.DEBUG, f"{self.url}: {probed.state.value} {probed.detail}".rstrip())]
        after = attrs.evolve(self, last=reading)
        if probed.state.is_problem and self.role is None and now - self.started < ROLE_WAIT_SECONDS:
            if not self.held:
                after = attrs.evolve(after, held=True)
                effects.append(StartTimer(ROLE_WAIT, self.started + ROLE_WAIT_SECONDS - now))
        elif probed.state.is_problem:
            after, reported = attrs.evolve(after, held=False).report(reading, now)
            effects.extend(reported)
        else:
            if self.last is None or (self.last.state, self.last.detail) != (probed.state, probed.detail):
                effects.append(log(Level.INFO, line(reading)))
            after = attrs.evolve(after, problem=None, held=False)
        effects.append(Publish(reading))
        asked = self.unseal_asked_at
        if (
            probed.state is VaultState.SEALED
            and probed.unsealable
            and (asked is None or now - asked > UNSEAL_ANSWER_SECONDS)
        ):
            after = attrs.evolve(after, unseal_asked_at=now)
            effects.append(AskUnsealer(UnsealRequested(self.hostname, self.url)))
        since = self.polled_at if self.polled_at is not None else now
        effects.append(StartTimer(POLL, max(0.0, since + self.interval - now)))
        return after, tuple(effects)

    def report(self, reading: VaultObserved, now: float) -> Decision[VaultMonitoring]:
        """Log a problem when it is news (new, or another problem) or a reminder is due; the reminder follows the
        state only: progress changing while sealed is not news."""
        if reading.state == self.problem and now - self.reported_at < REMINDER_SECONDS:
            return self, ()
        after = attrs.evolve(self, problem=reading.state, reported_at=now)
        if self.role is None or self.role.standby_of is None:
            return after, (log(Level.ERROR, line(reading)),)
        return after, (log(Level.INFO, f"{line(reading)} (standing by: {self.role.standby_of} reports it)"),)


def line(reading: VaultObserved) -> str:
    """The log line of a reading."""
    return f"Vault on {reading.hostname} ({reading.url}) is {reading.state.value}: {reading.detail}"
