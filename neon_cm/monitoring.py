"""The Vault monitor's decisions for one manager: when to poll, what each reading means, who reports it, when
to remind, and when to ask the Unsealer."""

from __future__ import annotations

from typing import Any

import attrs

from messages.log import Level
from messages.timing import SetInterval
from messages.vault import ReportingRole, UnsealFinished, UnsealRequested, VaultObserved, VaultState
from neon_cm.decider import CancelTimer, Decision, Publish, StartTimer, TimerFired, log
from neon_cm.lease import CHECK_TTL_SECONDS
from neon_cm.vault import FOLLOWER_WAIT_SECONDS

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
ESCALATE = "escalate"

#: The problems a standby says at ERROR itself once they last longer than `escalation_seconds`: what the Vault
#: answers about itself (sealed, not initialized, out of its cluster), the same from every instance. Unreachable and
#: unexpected stay at INFO on a standby: they may be its own path to the node (the active instance reports them when
#: they are the Vault's).
ESCALATED = frozenset({VaultState.SEALED, VaultState.NOT_INITIALIZED, VaultState.REMOVED, VaultState.DISCONNECTED})


def escalation_seconds(interval: float) -> float:
    """How long a standby sees a Vault sealed (or another of ESCALATED) before it says so at ERROR itself: longer
    than the active instance needs to report and unseal it, whatever happens to it meanwhile. Two polls: the active
    one's first sight of the seal may come a poll after the standby's, and a bad share among the keys costs it one
    more; the lock check's TTL: after a rolling update or a kill, a standby takes the lock (and unseals at once what
    it knows sealed) within it; the Unsealer's wait for a raft follower finishing in the background. 12 s with 3 s
    polls, 66 s with the default 30 s."""
    return 2 * interval + CHECK_TTL_SECONDS + FOLLOWER_WAIT_SECONDS


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
    lasting_since: float | None = None
    """Unless this instance reports: when this monitor first saw the Vault in one of ESCALATED, no reading since
    finding it well (sealed then not initialized is one period: a restarted raft follower; a reading that could not
    read it, unreachable or unexpected, neither ends it nor counts); the ESCALATE timer runs from then; None
    otherwise."""
    escalate_at: float | None = None
    """When the ESCALATE timer runs out (a poll change moves it: `interval_changed`)."""
    escalation_due: bool = False
    """The ESCALATE timer ran out: the next reading, taken at once, says a state that still lasts at ERROR."""
    escalated: bool = False
    """This standby said the lasting state at ERROR itself (seen for longer than `escalation_seconds`): said once
    per period; its reminders are at ERROR too."""

    @property
    def reporting(self) -> bool:
        return self.role is not None and self.role.standby_of is None

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
        if event == TimerFired(ESCALATE):
            if self.reporting or self.lasting_since is None or self.escalated:
                return self, ()
            if self.role is None:  # still waiting for the role: the first reading once it is known decides
                return attrs.evolve(self, escalation_due=True), ()
            # Read it now (as after an unseal): only a reading at the deadline says it still lasts.
            return attrs.evolve(self, escalation_due=True, polled_at=now), (Probe(),)
        if event == TimerFired(ROLE_WAIT):
            if self.held and self.last is not None:
                return attrs.evolve(self, held=False).report(self.last, now)
            return self, ()
        if isinstance(event, ReportingRole):
            return self.role_told(event, now)
        if isinstance(event, SetInterval):
            return self.interval_changed(event.seconds, now)
        if isinstance(event, UnsealFinished):
            after = attrs.evolve(self, unseal_asked_at=None)
            if event.unsealed:  # see it unsealed now, not at the next poll
                return attrs.evolve(after, polled_at=now), (Probe(),)
            return after, ()
        if isinstance(event, UnsealerAbsent):
            return attrs.evolve(self, unseal_asked_at=None), ()
        return self, ()

    def interval_changed(self, seconds: float, now: float) -> Decision[VaultMonitoring]:
        """The poll applies from the last poll's start. A standby's ESCALATE deadline counts from now at the new
        interval: raised, never earlier than the active instance needs at the new interval (it sees the Vault a
        new interval later); lowered, never later than it was."""
        since = self.polled_at if self.polled_at is not None else now
        after = attrs.evolve(self, interval=seconds)
        effects: tuple[Any, ...] = (StartTimer(POLL, max(0.0, since + seconds - now)),)
        if self.escalate_at is None or self.escalation_due or self.escalated:
            return after, effects
        at = now + escalation_seconds(seconds)
        at = max(self.escalate_at, at) if seconds > self.interval else min(self.escalate_at, at)
        return attrs.evolve(after, escalate_at=at), (*effects, StartTimer(ESCALATE, max(0.0, at - now)))

    def role_told(self, role: ReportingRole, now: float) -> Decision[VaultMonitoring]:
        after = attrs.evolve(self, role=role)
        effects: tuple[Any, ...] = ()
        if role.standby_of is None:
            if self.role is not None and self.role.standby_of is not None:
                after = attrs.evolve(after, problem=None)  # now the one that reports: a problem still there is news
            after, effects = after.period_over()
        if self.held and self.last is not None:
            after, reported = attrs.evolve(after, held=False).report(self.last, now)
            return after, (*effects, *reported)
        return after, effects

    def period_over(self) -> Decision[VaultMonitoring]:
        """Forget a lasting problem (the Vault is in a state not of ESCALATED now, or this instance reports now)."""
        if self.lasting_since is None and not self.escalated:
            return self, ()
        after = attrs.evolve(self, lasting_since=None, escalate_at=None, escalation_due=False, escalated=False)
        return after, (CancelTimer(ESCALATE),)

    def observed(self, probed: Probed, now: float) -> Decision[VaultMonitoring]:
        reading = VaultObserved(self.hostname, self.url, probed.state, probed.detail, probed.seal_type)
        effects: list[Any] = [log(Level.DEBUG, f"{self.url}: {probed.state.value} {probed.detail}".rstrip())]
        after = attrs.evolve(self, last=reading)
        if not probed.state.is_problem:
            # Only a reading that finds the Vault well ends a period: unreachable or unexpected says nothing of its
            # seal (it may be this standby's own path), so the period goes on from its first sight (else a flaky
            # path to the node would start it again and again, and the seal would never be said at ERROR).
            after, over = after.period_over()
            effects.extend(over)
        if probed.state in ESCALATED and not after.reporting and after.lasting_since is None:
            after = attrs.evolve(after, lasting_since=now, escalate_at=now + escalation_seconds(self.interval))
            effects.append(StartTimer(ESCALATE, escalation_seconds(self.interval)))
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
        state only: progress changing while sealed is not news. A standby says it at INFO, naming the active
        instance, except a Vault it has seen sealed for longer than that one needs to unseal it: that one it says at
        ERROR once (and its reminders), whatever keeps the active instance from reporting it."""
        lasting = reading.state in ESCALATED
        escalating = self.escalation_due and lasting and not self.escalated
        if not escalating and reading.state == self.problem and now - self.reported_at < REMINDER_SECONDS:
            return self, ()
        # A deadline met by an unreadable Vault waits for the next reading that says the seal.
        due = self.escalation_due and not lasting
        after = attrs.evolve(self, problem=reading.state, reported_at=now, escalation_due=due)
        if self.role is None or self.role.standby_of is None:
            return after, (log(Level.ERROR, line(reading)),)
        if (escalating or self.escalated) and lasting and self.lasting_since is not None:
            return attrs.evolve(after, escalated=True), (
                log(
                    Level.ERROR,
                    f"{line(reading)} (standing by, but {reading.state.value} for {now - self.lasting_since:.0f} s:"
                    f" longer than the active instance {self.role.standby_of} needs to unseal or report it; check"
                    " that instance)",
                ),
            )
        return after, (log(Level.INFO, f"{line(reading)} (standing by: {self.role.standby_of} reports it)"),)


def line(reading: VaultObserved) -> str:
    """The log line of a reading: its detail after a colon, when it has one."""
    detail = f": {reading.detail}" if reading.detail else ""
    return f"Vault on {reading.hostname} ({reading.url}) is {reading.state.value}{detail}"
