"""The instance lock as a lease: which Consul call to make next, and until when this instance may act as active.

The lock is a Consul session bound to a TTL check of this instance's. Consul releases the lock when the check
goes critical, CHECK_TTL_SECONDS after the last pass it received; this instance knows only when it *sent* a
pass, so it holds a lease until `start of the last successful pass + CHECK_TTL_SECONDS - MARGIN_SECONDS` and
steps down by a timer at that deadline, whatever its steps are doing. Every definition write and every unseal
share is checked against the deadline (BecameLeader, LeaseExtended carry it) when it goes out.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

from messages.consul_answers import (
    CheckGone,
    CheckPassed,
    CheckRegistered,
    ConsulRefused,
    ConsulUnreachable,
    HolderRead,
    LockAcquired,
    LockBusy,
    SessionCreated,
    SessionGone,
    SessionRenewed,
)
from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.log import Level
from neon_cm.decider import Decision, Publish, StartTimer, TimerFired, log
from neon_cm.keys import LEADER_KEY
from neon_cm.outage import Outage

#: The session is bound to a TTL check of this instance's on the local Consul agent (and to the agent's
#: serfHealth): the check goes critical this long after the last pass, and Consul invalidates the session
#: (releasing the lock) at that moment, not at a session TTL's 10 to 20 s.
CHECK_TTL_SECONDS = 3.0
#: How often the active instance passes its check.
ACTIVE_SECONDS = 1.0
#: How often the active instance reads the lock to see it still holds it (someone may delete the key;
#: its writes are fenced meanwhile): not at every pass, which would double its idle requests.
HOLDER_CHECK_SECONDS = 5.0
#: How often a standby passes its check and tries the lock: a released lock is taken within this.
STANDBY_SECONDS = 0.5
#: The lease ends this long before the check can expire: another instance cannot take the lock before then.
MARGIN_SECONDS = 1.0
#: An active instance that could not pass its check for this long (counted from the start of the last pass
#: that worked) stops writing and unsealing.
GIVE_UP_SECONDS = CHECK_TTL_SECONDS - MARGIN_SECONDS
CHECK_NAME = "neon-cluster-manager"
#: The timers: the next step, and the lease's deadline.
STEP, DEADLINE = "step", "deadline"


# --------------------------------------------------------------------------- effects: the calls to make


@attrs.frozen
class RegisterCheck:
    """Deregister dead instances' critical checks, then register ours (TTL, passing). Answer: CheckRegistered."""

    check_id: str
    name: str
    ttl_seconds: float


@attrs.frozen
class CreateSession:
    """Create a session bound to `checks`. Answer: SessionCreated."""

    name: str
    checks: tuple[str, ...]


@attrs.frozen
class PassCheck:
    """Pass the TTL check. Answer: CheckPassed or CheckGone."""

    check_id: str


@attrs.frozen
class RenewSession:
    """Is the session still valid? Answer: SessionRenewed or SessionGone."""

    session: str


@attrs.frozen
class Acquire:
    """Try the lock. Answer: LockAcquired or LockBusy."""

    key: str
    value: str
    session: str


@attrs.frozen
class ReadHolder:
    """Read which session holds the lock. Answer: HolderRead."""

    key: str


@attrs.frozen
class Release:
    """Give the lock up: release it, destroy the session, deregister the check (best effort, no answer)."""

    key: str
    value: str
    session: str
    check_id: str


# --------------------------------------------------------------------------- events of the shell


@attrs.frozen
class Start:
    """The shell started: take the first step at once."""


@attrs.frozen
class Stop:
    """The shell stops (cleanly or after a crash): give the lock up and say so."""


@attrs.frozen
class Lease:
    """Whether this instance holds the lock, until when, and which call of its current step comes next."""

    instance: str
    """This instance's name: the lock's value."""
    session: str | None = None
    """Our Consul session, None until one is created (and after it is found gone)."""
    leading: bool = False
    """Whether subscribers were told BecameLeader (and not LostLeadership since)."""
    valid_until: float = 0.0
    """The lease's deadline while leading (monotonic seconds)."""
    pass_started: float = 0.0
    """When the pass (or the check's registration) of the current step was asked for."""
    holder_checked: float = float("-inf")
    """When the active instance last read the lock to see it still holds it."""
    doing: str | None = None
    """The call in flight, for a refusal's log line; None between steps."""
    step_missed: bool = False
    """The step timer fired while a step was in flight: the next one starts as soon as it ends."""
    waiting_for: str | None = None
    """The other instance last seen holding the lock, while standing by."""
    role_said: bool = False
    """Whether subscribers have been told anything yet (active, standing by, or neither)."""
    refused: bool = False
    """Whether the last failure was an ACL refusal (for the step-down's reason)."""
    outage: Outage = attrs.field(factory=Outage, eq=False)
    """The failure going on, for one line and reminders; copied before each change (the state is a value)."""

    @property
    def check_id(self) -> str:
        return f"{CHECK_NAME}:{self.instance}"

    def view(self) -> Any:
        """What a (re)started subscriber must hear: the role as last told, or None."""
        if self.leading and self.session is not None:
            return BecameLeader(self.instance, self.session, self.valid_until)
        if self.waiting_for is not None:
            return StandingBy(self.waiting_for)
        if self.role_said:
            return LostLeadership("no instance is known to be active")
        return None

    def decide(self, event: object, now: float) -> Decision[Lease]:
        if isinstance(event, Start):
            return self.begin_step(now)
        if isinstance(event, TimerFired) and event.key == STEP:
            if self.doing is not None:
                return attrs.evolve(self, step_missed=True), ()
            return self.begin_step(now)
        if isinstance(event, TimerFired) and event.key == DEADLINE:
            return self.deadline_passed(now)
        if isinstance(event, Stop):
            return self.stop()
        if self.doing is None:
            return self, ()  # an answer to a step already given up: nothing in flight to go on with
        return self.answered(event, now)

    # ----------------------------------------------------------------------- steps

    def begin_step(self, now: float) -> Decision[Lease]:
        """A step: create what is missing, pass the check, then renew and try the lock (or check the holder)."""
        interval = ACTIVE_SECONDS if self.leading else STANDBY_SECONDS
        timer = StartTimer(STEP, interval)
        state = attrs.evolve(self, step_missed=False, pass_started=now)
        if self.session is None:
            return attrs.evolve(state, doing="registering its check"), (
                timer,
                RegisterCheck(self.check_id, CHECK_NAME, CHECK_TTL_SECONDS),
            )
        return attrs.evolve(state, doing="passing its check"), (timer, PassCheck(self.check_id))

    def end_step(self, effects: tuple[Any, ...] = (), failed: bool = False) -> Decision[Lease]:
        """The step is over: a missed tick starts the next one at once; a success ends an outage."""
        state, more = attrs.evolve(self, doing=None, step_missed=False), list(effects)
        if not failed and self.outage.problem is not None:
            outage = copy.copy(self.outage)
            outage.succeeded()
            state = attrs.evolve(state, outage=outage, refused=False)
            more.append(log(Level.INFO, "reaching Consul again for the instance lock"))
        if self.step_missed:
            more.append(StartTimer(STEP, 0))
        return state, tuple(more)

    def answered(self, answer: object, now: float) -> Decision[Lease]:
        if isinstance(answer, CheckRegistered):
            return attrs.evolve(self, doing="creating a session"), (
                CreateSession(f"neon-cluster-manager {self.instance}", ("serfHealth", self.check_id)),
            )
        if isinstance(answer, SessionCreated):
            # A new session holds nothing yet: try the lock (the check was registered passing at pass_started).
            return attrs.evolve(self, session=answer.session, doing=f"reading and writing {LEADER_KEY}"), (
                Acquire(LEADER_KEY, self.instance, answer.session),
            )
        if isinstance(answer, CheckPassed):
            return self.passed(now)
        if isinstance(answer, CheckGone):
            return self.check_gone(answer, now)
        if isinstance(answer, SessionRenewed) and self.session is not None:
            return attrs.evolve(self, doing=f"reading and writing {LEADER_KEY}"), (
                Acquire(LEADER_KEY, self.instance, self.session),
            )
        if isinstance(answer, SessionGone):
            state, effects = attrs.evolve(self, session=None).lose("the Consul session expired")
            return state.end_step(effects)
        if isinstance(answer, LockAcquired):
            return self.acquired(now)
        if isinstance(answer, LockBusy):
            return attrs.evolve(self, doing=f"reading {LEADER_KEY}"), (ReadHolder(LEADER_KEY),)
        if isinstance(answer, HolderRead):
            return self.holder_read(answer, now)
        if isinstance(answer, ConsulRefused):
            return self.refused_by_consul(answer, now)
        if isinstance(answer, ConsulUnreachable):
            return self.unreachable(answer, now)
        return self, ()

    def passed(self, now: float) -> Decision[Lease]:
        """The check lives CHECK_TTL_SECONDS from (at the latest) the pass's start: while leading, a pass answered
        before the deadline extends the lease to that minus the margin; otherwise renew the session and try the
        lock."""
        if not self.leading:
            assert self.session is not None  # a pass is asked for only with a session
            return attrs.evolve(self, doing="renewing its session"), (RenewSession(self.session),)
        if self.pass_started >= self.valid_until:
            # The lease ran out before this pass began (the instance was paused, a step hung): the check may have
            # gone critical meanwhile, and Consul then killed the session and released the lock. A pass revives
            # the check, never the session: step down, and the next step finds out with a renewal.
            return self.lose_and_end("its lease ran out before its check was passed again")
        if now >= self.valid_until:
            # Started in time but answered late (a slow agent; the shell blocks on the call, so this answer comes
            # before the deadline timer): the pass may have reached Consul after the check went critical. Only an
            # answer before the deadline (a margin before the check can expire) proves it came in time.
            return self.lose_and_end("its lease ran out before its check pass was answered")
        deadline = self.pass_started + GIVE_UP_SECONDS
        effects: list[Any] = []
        state = self
        if deadline > self.valid_until:
            assert self.session is not None
            state = attrs.evolve(self, valid_until=deadline)
            effects += [Publish(LeaseExtended(self.session, deadline)), StartTimer(DEADLINE, deadline - now)]
        if now - self.holder_checked >= HOLDER_CHECK_SECONDS:
            state = attrs.evolve(state, holder_checked=self.pass_started, doing=f"reading {LEADER_KEY}")
            return state, (*effects, ReadHolder(LEADER_KEY))
        return state.end_step(tuple(effects))

    def check_gone(self, answer: CheckGone, now: float) -> Decision[Lease]:
        """Our check is gone (the agent restarted without its data, a peer deregistered it) and our session with
        it: step down, then register it again and take a new session at once (never an outage forever)."""
        state, effects = attrs.evolve(self, session=None).lose("this instance's Consul check is gone")
        state = attrs.evolve(state, pass_started=now, doing="registering its check")
        return state, (
            *effects,
            log(Level.WARN, f"this instance's Consul check is gone ({answer.answer}); registering it again"),
            RegisterCheck(self.check_id, CHECK_NAME, CHECK_TTL_SECONDS),
        )

    def acquired(self, now: float) -> Decision[Lease]:
        """The session holds the lock: lead until the deadline of this step's pass."""
        deadline = self.pass_started + GIVE_UP_SECONDS
        if self.leading or self.session is None or deadline <= now:
            # Already leading (a holder check re-acquired), or the step was so slow that its pass gives no lease
            # left: the next step's pass decides.
            return self.end_step()
        state = attrs.evolve(
            self, leading=True, valid_until=deadline, waiting_for=None, role_said=True, holder_checked=self.pass_started
        )
        return state.end_step(
            (
                log(Level.INFO, f"this instance ({self.instance}) is active"),
                Publish(BecameLeader(self.instance, self.session, deadline)),
                StartTimer(DEADLINE, deadline - now),
                StartTimer(STEP, ACTIVE_SECONDS),
            )
        )

    def holder_read(self, answer: HolderRead, now: float) -> Decision[Lease]:
        if self.leading:
            if answer.session != self.session:
                return self.lose_and_end(f"{LEADER_KEY} is no longer held by this instance")
            return self.end_step()
        # Standing by: say once which instance holds it (its monitors then report at INFO).
        if answer.holder == self.waiting_for:
            return self.end_step()
        state = attrs.evolve(self, waiting_for=answer.holder, role_said=True)
        if answer.holder is not None:
            return state.end_step(
                (
                    log(Level.INFO, f"standing by: {answer.holder} is the active instance ({LEADER_KEY})"),
                    Publish(StandingBy(answer.holder)),
                )
            )
        return state.end_step(
            (
                log(Level.INFO, f"no instance holds {LEADER_KEY}; trying to take it"),
                Publish(LostLeadership("no instance holds the lock")),
            )
        )

    def lose_and_end(self, reason: str) -> Decision[Lease]:
        state, effects = self.lose(reason)
        return state.end_step(effects)

    # ----------------------------------------------------------------------- failures

    def refused_by_consul(self, answer: ConsulRefused, now: float) -> Decision[Lease]:
        """Not an outage: this instance can never be active with this token. One ERROR (a reminder every 5 min)."""
        outage = copy.copy(self.outage)
        effects = []
        if outage.failed("permission", now):
            effects.append(
                log(Level.ERROR, f"Consul refused {self.doing} for the instance lock: {answer.detail}; retrying")
            )
        return attrs.evolve(self, outage=outage, refused=True).end_step(tuple(effects), failed=True)

    def unreachable(self, answer: ConsulUnreachable, now: float) -> Decision[Lease]:
        outage = copy.copy(self.outage)
        effects: list[Any] = []
        if outage.failed("consul", now):
            effects.append(log(Level.ERROR, f"cannot reach Consul for the instance lock ({answer.reason}); retrying"))
        state = attrs.evolve(self, outage=outage, refused=False)
        if not self.leading and not self.role_said:
            # Nobody can say which instance is active: this one reports Vault problems (at ERROR) meanwhile.
            state = attrs.evolve(state, role_said=True)
            effects.append(Publish(LostLeadership("Consul is unreachable: no instance is known to be active")))
        return state.end_step(tuple(effects), failed=True)

    def deadline_passed(self, now: float) -> Decision[Lease]:
        """The lease's timer: step down at the deadline unless a pass extended it meanwhile."""
        if not self.leading:
            return self, ()
        if now < self.valid_until:
            return self, (StartTimer(DEADLINE, self.valid_until - now),)
        why = f"Consul refused {self.doing or 'passing its check'}" if self.refused else "its Consul check not passed"
        return self.lose(f"{why} for over {GIVE_UP_SECONDS:g} s")

    def lose(self, reason: str) -> Decision[Lease]:
        """Step down (if leading): subscribers stop writing and unsealing."""
        if not self.leading:
            return self, ()
        return attrs.evolve(self, leading=False, valid_until=0.0), (
            log(Level.WARN, f"this instance is no longer active: {reason}; it stops writing and unsealing"),
            Publish(LostLeadership(reason)),
            StartTimer(STEP, STANDBY_SECONDS),
        )

    def stop(self) -> Decision[Lease]:
        """Subscribers hear the lock is given up before it is: they stop writing and unsealing first."""
        effects: list[Any] = []
        if self.leading:
            effects.append(Publish(LostLeadership("this instance is stopping")))
        if self.session is not None:
            effects.append(Release(LEADER_KEY, self.instance, self.session, self.check_id))
        return attrs.evolve(self, leading=False, session=None, doing=None), tuple(effects)
