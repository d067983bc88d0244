"""The instance lock as a lease: which Consul call to make next, and until when this instance may act as active.

The lock is a Consul session bound to a TTL check of this instance's. Consul releases the lock when the check
goes critical, CHECK_TTL_SECONDS after the last pass it received; this instance knows only when it *sent* a
pass, so it holds a lease until `start of the last successful pass + CHECK_TTL_SECONDS - MARGIN_SECONDS` and
steps down by a timer at that deadline, whatever its steps are doing. A passing check says nothing of the session
(`consul session destroy`, the agent's serfHealth going critical or a snapshot restore end it while the check
passes): a pass extends the lease only once a read of the lock that follows it finds this session the holder.
Every definition write and every unseal share is checked against the deadline (BecameLeader, LeaseExtended carry
it) when it goes out.
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
    SessionChecksRead,
    SessionCreated,
    SessionGone,
    SessionRenewed,
)
from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.lifecycle import ActorRestarted, SupervisionGaveUp
from messages.log import Level
from messages.swarm import NodeListFailed, NodesObserved
from neon_cm.decider import Decision, Publish, StartTimer, TimerFired, log
from neon_cm.handover import LISTING_ACTORS, OFFER_RETRY_SECONDS, STANDBY_KEY, YIELD_BACKOFF_SECONDS, Fitness
from neon_cm.keys import LEADER_KEY
from neon_cm.outage import Outage

#: The session is bound to a TTL check of this instance's on the local Consul agent (and to the agent's
#: serfHealth): the check goes critical this long after the last pass, and Consul invalidates the session
#: (releasing the lock) at that moment, not at a session TTL's 10 to 20 s.
CHECK_TTL_SECONDS = 3.0
#: How often the active instance passes its check.
ACTIVE_SECONDS = 1.0
#: How often a standby passes its check and tries the lock: a released lock is taken within this.
STANDBY_SECONDS = 0.5
#: The lease ends this long before the check can expire: another instance cannot take the lock before then.
MARGIN_SECONDS = 1.0
#: An active instance that could not pass its check for this long (counted from the start of the last pass
#: that worked) stops writing and unsealing.
GIVE_UP_SECONDS = CHECK_TTL_SECONDS - MARGIN_SECONDS
CHECK_NAME = "neon-cluster-manager"
#: What a 500 of Consul's servers is called (the agent answers: an election, `No cluster leader`, or the server it
#: forwarded the call to went away, `rpc error making call: EOF`), not `cannot reach Consul`.
NO_LEADER = "Consul is up but its servers did not answer (an election, or the server the agent asked went away)"
#: The timers: the next step, and the lease's deadline.
STEP, DEADLINE = "step", "deadline"
#: The calls of the handover (neon_cm/handover.py), as `doing` names them.
OFFERING = f"offering to take over ({STANDBY_KEY})"
READING_STANDBY = f"reading {STANDBY_KEY}"
CHECKING_OFFER = f"reading who holds {STANDBY_KEY}"
#: A standby reads the checks of the session holding the lock this often (every step while one looks orphaned).
ORPHAN_READ_SECONDS = 5.0
#: A standby destroys the session holding the lock once a check the session is bound to has been missing from the
#: agent (the holder's own, deregistered as dead) for this long: see `orphan_read`.
ORPHAN_SECONDS = CHECK_TTL_SECONDS
READING_HOLDER_CHECKS = "reading the lock holder's checks"
#: A refused offer (a token whose policy predates STANDBY_KEY) is tried again, and said again, this much later.
OFFER_REFUSED_SECONDS = 300.0


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
class Withdraw:
    """Release one key our session holds (the lock when handing it over, STANDBY_KEY when no longer fit to take
    over), keeping the session (best effort, no answer)."""

    key: str
    value: str
    session: str


@attrs.frozen
class ReadHolder:
    """Read which session holds the lock. Answer: HolderRead."""

    key: str


@attrs.frozen
class ReadSessionChecks:
    """Which checks of `session` the agent does not have (`own_check` names this agent's node). Answer:
    SessionChecksRead."""

    session: str
    own_check: str


@attrs.frozen
class DestroySession:
    """Destroy a session that is not this instance's current one: an older one of its own, or an orphan holding the
    lock (best effort, no answer)."""

    session: str


@attrs.frozen
class OpenGate:
    """The lock is held: shares and resets may go out under it again (actors/under_lock.py), before any subscriber
    hears BecameLeader."""


@attrs.frozen
class ShutGate:
    """Before the lock is given up on purpose: no share or reset goes out any more, and the shell waits (up to the
    Vault client's read timeout) until each one already written is answered or given up on, so that none reaches
    a Vault after a standby took the lock (seed 4153). No answer."""


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
class StopBegun:
    """The instance's stop began (SIGTERM: its supervisors stop its actors one by one, this one among the last): it no
    longer offers to take over (STANDBY_KEY withdrawn) nor tries or takes the lock; a lock it holds is released by the
    stop (`Stop`), its subscribers told first."""


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
    fitness: Fitness = attrs.field(factory=Fitness)
    """This instance's own listings of the Swarm (neon_cm/handover.py): whether it can do its part."""
    offered: bool = False
    """Whether our session holds STANDBY_KEY (this standby offers to take over)."""
    offer_tried: float = float("-inf")
    """When this standby last tried STANDBY_KEY."""
    backoff_until: float = float("-inf")
    """After handing the lock over, this instance does not try it before this time."""
    keeping_said: bool = False
    """Whether it said that it keeps the lock though it cannot list (no standby can take over)."""
    ghost: str | None = None
    """An older session of this instance's found holding the lock, last destroyed (said once per session)."""
    checks_read: float = float("-inf")
    """When this standby last read the checks of the session holding the lock, and of which session."""
    checks_read_of: str | None = None
    orphan: str | None = None
    """The session holding the lock last found bound to a check the agent does not have, and since when."""
    orphan_since: float = 0.0
    stopping: bool = False
    """The instance's stop began (StopBegun): it offers nothing and takes no lock; while leading it steps as before
    until its stop releases the lock."""

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
        if isinstance(event, (NodesObserved, NodeListFailed)):
            return self.listing(event), ()
        if isinstance(event, (ActorRestarted, SupervisionGaveUp)):
            return self.listing_side_died(event, now), ()
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
        if isinstance(event, StopBegun):
            return self.stop_begun()
        if self.doing is None:
            return self, ()  # an answer to a step already given up: nothing in flight to go on with
        return self.answered(event, now)

    # ----------------------------------------------------------------------- steps

    def begin_step(self, now: float) -> Decision[Lease]:
        """A step: create what is missing, pass the check, then renew and try the lock (or check the holder)."""
        if self.stopping and not self.leading:
            return attrs.evolve(self, step_missed=False), ()  # nothing to do: its stop gives up session and check
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
        if self.doing in (OFFERING, READING_STANDBY, CHECKING_OFFER):
            handover = self.handover_answered(answer, now)
            if handover is not None:
                return handover
        if isinstance(answer, CheckRegistered):
            return attrs.evolve(self, doing="creating a session"), (
                CreateSession(f"neon-cluster-manager {self.instance}", ("serfHealth", self.check_id)),
            )
        if isinstance(answer, SessionCreated):
            # A new session holds nothing yet: try the lock (the check was registered passing at pass_started).
            # (Nor STANDBY_KEY: an offer went with the session before it.)
            state = attrs.evolve(self, session=answer.session, offered=False)
            if self.stopping:
                return state.end_step()
            return attrs.evolve(state, doing=f"reading and writing {LEADER_KEY}"), (
                Acquire(LEADER_KEY, self.instance, answer.session),
            )
        if isinstance(answer, CheckPassed):
            return self.passed(now)
        if isinstance(answer, CheckGone):
            return self.check_gone(answer, now)
        if isinstance(answer, SessionRenewed) and self.session is not None:
            return self.renewed(now)
        if isinstance(answer, SessionGone):
            state, effects = attrs.evolve(self, session=None).lose("the Consul session expired")
            return state.end_step(effects)
        if isinstance(answer, LockAcquired):
            return self.acquired(now)
        if isinstance(answer, LockBusy):
            return attrs.evolve(self, doing=f"reading {LEADER_KEY}"), (ReadHolder(LEADER_KEY),)
        if isinstance(answer, HolderRead):
            return self.holder_read(answer, now)
        if isinstance(answer, SessionChecksRead):
            return self.orphan_read(answer, now)
        if isinstance(answer, ConsulRefused):
            return self.refused_by_consul(answer, now)
        if isinstance(answer, ConsulUnreachable):
            return self.unreachable(answer, now)
        return self, ()

    def passed(self, now: float) -> Decision[Lease]:
        """The check lives CHECK_TTL_SECONDS from (at the latest) the pass's start. While leading, a pass answered
        before the deadline is followed by a read of the lock: the lease is extended only if this session still holds
        it. Otherwise renew the session and try the lock."""
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
        return attrs.evolve(self, doing=f"reading {LEADER_KEY}"), (ReadHolder(LEADER_KEY),)

    def confirmed(self, now: float) -> Decision[Lease]:
        """The read after this step's pass found this session holding the lock: lead until that pass's start +
        CHECK_TTL_SECONDS - MARGIN_SECONDS, if the read too was answered before the deadline."""
        if now >= self.valid_until:
            return self.lose_and_end("its lease ran out before its lock was confirmed")
        deadline = self.pass_started + GIVE_UP_SECONDS
        effects: list[Any] = []
        state = self
        if deadline > self.valid_until:
            assert self.session is not None
            state = attrs.evolve(self, valid_until=deadline)
            effects += [Publish(LeaseExtended(self.session, deadline)), StartTimer(DEADLINE, deadline - now)]
        if self.fitness.unfit_at(now):
            return attrs.evolve(state, doing=READING_STANDBY), (*effects, ReadHolder(STANDBY_KEY))
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
        if self.stopping and not self.leading and self.session is not None:
            # Tried before the stop began, answered after: a stopping instance does not lead (its publisher and
            # Unsealer are stopping); it gives the lock back, its offer with it. A lease of this session may have run
            # out a moment ago with the lock still held (the try was a re-take): as the stop does, shut the
            # Unsealer's gate and wait for what is on its way to a Vault before the lock is free.
            state, effects = self.withdrawn((ShutGate(), Withdraw(LEADER_KEY, self.instance, self.session)))
            return state.end_step(effects)
        if self.leading or self.session is None or deadline <= now:
            # Already leading (a holder check re-acquired), or the step was so slow that its pass gives no lease
            # left: the next step's pass decides.
            return self.end_step()
        state = attrs.evolve(
            self,
            leading=True,
            valid_until=deadline,
            waiting_for=None,
            role_said=True,
            offered=False,
            keeping_said=False,
        )
        # An active instance offers nothing: another standby may offer in its place.
        withdraw = (Withdraw(STANDBY_KEY, self.instance, self.session),) if self.offered else ()
        return state.end_step(
            (
                *withdraw,
                log(Level.INFO, f"this instance ({self.instance}) is active"),
                OpenGate(),
                Publish(BecameLeader(self.instance, self.session, deadline)),
                StartTimer(DEADLINE, deadline - now),
                StartTimer(STEP, ACTIVE_SECONDS),
            )
        )

    def holder_read(self, answer: HolderRead, now: float) -> Decision[Lease]:
        if self.leading:
            if answer.session != self.session:
                return self.lose_and_end(f"{LEADER_KEY} is no longer held by this instance")
            return self.confirmed(now)
        ghost = self.own_ghost(answer)
        if ghost is not None:
            return self.ghost_holds(ghost)
        # Standing by: say once which instance holds it (its monitors then report at INFO).
        if answer.holder == self.waiting_for:
            return self.read_holder_checks(self, (), answer, now)
        state = attrs.evolve(self, waiting_for=answer.holder, role_said=True)
        if answer.holder is not None:
            said = (
                log(Level.INFO, f"standing by: {answer.holder} is the active instance ({LEADER_KEY})"),
                Publish(StandingBy(answer.holder)),
            )
            return self.read_holder_checks(state, said, answer, now)
        trying = "trying to take it" if now >= self.backoff_until else "it tries to take it once its backoff ends"
        return state.end_step(
            (
                log(Level.INFO, f"no instance holds {LEADER_KEY}; {trying}"),
                Publish(LostLeadership("no instance holds the lock")),
            )
        )

    def read_holder_checks(
        self, state: Lease, effects: tuple[Any, ...], answer: HolderRead, now: float
    ) -> Decision[Lease]:
        """A standby found another session holding the lock: read which of its checks the agent lacks (see
        orphan_read) when the session is new to it, then every ORPHAN_READ_SECONDS (every step while it looks
        orphaned); otherwise the step is over."""
        if answer.session is None or answer.session == self.session:
            return state.end_step(effects)
        due = (
            answer.session == state.orphan
            or answer.session != state.checks_read_of
            or now - state.checks_read >= ORPHAN_READ_SECONDS
        )
        if not due:
            return state.end_step(effects)
        state = attrs.evolve(state, checks_read=now, checks_read_of=answer.session, doing=READING_HOLDER_CHECKS)
        return state, (*effects, ReadSessionChecks(answer.session, self.check_id))

    def orphan_read(self, answer: SessionChecksRead, now: float) -> Decision[Lease]:
        """The lock is held by a session bound to a check the agent does not have: the check of a dead instance,
        deregistered (as critical) by a later one, and the session brought back by a snapshot restore; Consul's
        catalog got the check back with the snapshot, passing, so Consul keeps the session and the lock until its
        agent's next anti-entropy sync (60 to 120 s later). Once the check has been missing for ORPHAN_SECONDS,
        destroy the session (the lock is free at the next step).

        Safe: a session's checks are registered on its own node's agent, which is this one (the gateway compares
        the nodes). A holder leads only until the start of its last successful pass + GIVE_UP_SECONDS, and a pass
        of a missing check fails (the holder then steps down, drops that session and registers its check again,
        never leading on the old session again). The check was deregistered before this standby first found it
        missing, so the holder's last successful pass started before then and its lease ended within
        GIVE_UP_SECONDS < ORPHAN_SECONDS of that first sighting. A check registered again meanwhile is not missing:
        nothing is destroyed."""
        if not answer.missing:
            return attrs.evolve(self, orphan=None).end_step()
        if self.orphan != answer.session:
            return attrs.evolve(self, orphan=answer.session, orphan_since=now).end_step()
        if now - self.orphan_since < ORPHAN_SECONDS:
            return self.end_step()
        line = (
            f"{LEADER_KEY} is held by session {answer.session}, bound to a check this Consul agent no longer has "
            f"({', '.join(answer.missing)}) for {now - self.orphan_since:.1f} s (a snapshot restore brought a dead "
            "instance's session back): destroying that session so that an instance can take the lock"
        )
        state = attrs.evolve(self, orphan=None, waiting_for=None)
        return state.end_step((log(Level.WARN, line), DestroySession(answer.session)))

    def ghost_holds(self, session: str) -> Decision[Lease]:
        """The lock is held under this instance's own name by a session that is not its current one: an older one,
        brought back by a snapshot restore after this instance lost it and bound to the check this instance registered
        again under the same ID and keeps passing, so it would never lapse and the instance would stand by for itself
        for ever. No other instance goes by this name: destroy that session (which frees the lock) and take the lock
        at the next step."""
        state, effects = self.ghost_found(LEADER_KEY, session, "to take the lock again")
        return state.end_step(effects)

    def ghost_found(self, key: str, session: str, why: str) -> Decision[Lease]:
        """`key` held under this instance's own name by `session`, not its current one (see ghost_holds): destroy
        that session, saying so once."""
        said: tuple[Any, ...] = ()
        if self.ghost != session:
            said = (
                log(
                    Level.WARN,
                    f"{key} is held by an older session of this instance ({session}), brought back by Consul "
                    f"(a snapshot restore); destroying it {why}",
                ),
            )
        return attrs.evolve(self, ghost=session), (*said, DestroySession(session))

    def own_ghost(self, answer: HolderRead) -> str | None:
        """The session of an older self holding the key read, if that is what `answer` shows."""
        if answer.holder == self.instance and answer.session not in (None, self.session):
            return answer.session
        return None

    def lose_and_end(self, reason: str) -> Decision[Lease]:
        state, effects = self.lose(reason)
        return state.end_step(effects)

    # ----------------------------------------------------------------------- handing over (neon_cm/handover.py)

    def listing(self, event: NodesObserved | NodeListFailed) -> Lease:
        """Count this instance's own listings: a standby offers while its last one succeeded; an active one
        hands over after UNFIT_FAILURES failures in a row."""
        if isinstance(event, NodesObserved):
            fitness = self.fitness.succeeded(event.at)
            if fitness is self.fitness:
                return self  # older than the last failure: no news
            return attrs.evolve(self, fitness=fitness, keeping_said=False)
        return attrs.evolve(self, fitness=self.fitness.failed(event.at))

    def listing_side_died(self, event: ActorRestarted | SupervisionGaveUp, now: float) -> Lease:
        """A death of the SwarmWatcher or of the definition side counts as a failed listing; that side given up on,
        as unfit (see neon_cm/handover.py). Other actors' deaths are no news here."""
        if event.actor not in LISTING_ACTORS:
            return self
        fitness = self.fitness.gave_up(now) if isinstance(event, SupervisionGaveUp) else self.fitness.crashed(now)
        return attrs.evolve(self, fitness=fitness)

    def renewed(self, now: float) -> Decision[Lease]:
        """A standby's session is valid: offer to take over (or withdraw the offer), then try the lock."""
        assert self.session is not None  # renewed only with a session
        if self.stopping:
            return self.try_lock(now)
        if self.fitness.fit and now - self.offer_tried >= OFFER_RETRY_SECONDS:
            # Made again while it stands (a no-op in Consul): a snapshot restore or a lost write can take the key
            # from under a session that lives on, and the standby would never know (the long run's seed 17720).
            state = attrs.evolve(self, offer_tried=now, doing=OFFERING)
            return state, (Acquire(STANDBY_KEY, self.instance, self.session),)
        if self.offered and not self.fitness.fit:
            withdraw = Withdraw(STANDBY_KEY, self.instance, self.session)
            return attrs.evolve(self, offered=False).try_lock(now, (withdraw,))
        return self.try_lock(now)

    def try_lock(self, now: float, effects: tuple[Any, ...] = ()) -> Decision[Lease]:
        """Try the lock; after handing it over, only read who holds it until the backoff ends."""
        assert self.session is not None
        if self.stopping:
            state, withdrawn = self.withdrawn(effects)
            return state.end_step(withdrawn)
        if now < self.backoff_until:
            return attrs.evolve(self, doing=f"reading {LEADER_KEY}"), (*effects, ReadHolder(LEADER_KEY))
        state = attrs.evolve(self, doing=f"reading and writing {LEADER_KEY}")
        return state, (*effects, Acquire(LEADER_KEY, self.instance, self.session))

    def handover_answered(self, answer: object, now: float) -> Decision[Lease] | None:
        """The answer to an offer (standby) or to reading STANDBY_KEY (active, unfit); None: decided as any
        answer (Consul unreachable ends the step)."""
        if isinstance(answer, ConsulRefused):
            # A token whose policy predates STANDBY_KEY: the lock works as before, without the handover.
            effects = (
                log(
                    Level.ERROR,
                    f"Consul refused {self.doing}: {answer.detail}; this instance can neither offer to take over "
                    "from an active instance that cannot list the Swarm nor hand the lock to one that can "
                    "(see examples/consul-acl-policy.hcl)",
                ),
            )
            if self.doing in (OFFERING, CHECKING_OFFER):
                state = attrs.evolve(self, offer_tried=now + OFFER_REFUSED_SECONDS - OFFER_RETRY_SECONDS)
                return state.try_lock(now, effects)
            said = self.keeping_said
            return attrs.evolve(self, keeping_said=True).end_step(() if said else effects)
        if self.doing == OFFERING and isinstance(answer, LockAcquired):
            return attrs.evolve(self, offered=True).try_lock(now)  # withdrawn at once if the stop began meanwhile
        if self.doing == OFFERING and isinstance(answer, LockBusy):
            # Another standby offers; or an older session of this instance does (a snapshot restore), and would
            # keep every other standby from offering for good: read which.
            return attrs.evolve(self, offered=False, doing=CHECKING_OFFER), (ReadHolder(STANDBY_KEY),)
        if self.doing == CHECKING_OFFER and isinstance(answer, HolderRead):
            ghost = self.own_ghost(answer)
            if ghost is None:
                return self.try_lock(now)
            state, effects = self.ghost_found(STANDBY_KEY, ghost, "so that a standby can offer")
            return state.try_lock(now, effects)
        if self.doing == READING_STANDBY and isinstance(answer, HolderRead):
            ghost = self.own_ghost(answer)
            if ghost is not None:  # never a hand-over to itself; the next step reads the key again
                state, effects = self.ghost_found(STANDBY_KEY, ghost, "so that a standby can offer")
                return state.end_step(effects)
            if answer.session is not None and answer.session != self.session:
                return self.hand_over(answer.holder or "a standby", now)
            if self.keeping_said:
                return self.end_step()
            line = (
                f"this instance cannot list the Swarm's nodes ({self.fitness.why(now)}) "
                "and no standby that can is known: it keeps the lock"
            )
            return attrs.evolve(self, keeping_said=True).end_step((log(Level.WARN, line),))
        return None

    def hand_over(self, standby: str, now: float) -> Decision[Lease]:
        """Release the lock to a standby that can list (its subscribers stop first, and no share or reset is still on
        its way), keep the session, and do not compete for YIELD_BACKOFF_SECONDS."""
        assert self.session is not None
        reason = (
            f"it cannot list the Swarm's nodes ({self.fitness.why(now)}) and {standby} "
            f"can; it hands the lock over and does not try it again for {YIELD_BACKOFF_SECONDS:g} s"
        )
        state, effects = attrs.evolve(self, backoff_until=now + YIELD_BACKOFF_SECONDS, keeping_said=False).lose(reason)
        return state.end_step((*effects, ShutGate(), Withdraw(LEADER_KEY, self.instance, self.session)))

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
            what = NO_LEADER if answer.leaderless else "cannot reach Consul"
            effects.append(log(Level.ERROR, f"{what} for the instance lock ({answer.reason}); retrying"))
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
        why = (
            f"Consul refused {self.doing or 'passing its check'}"
            if self.refused
            else "its check and lock not confirmed by Consul"
        )
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

    def stop_begun(self) -> Decision[Lease]:
        """The instance's stop began: withdraw the offer at once (an unfit holder reading it would hand the lock to an
        instance about to go); from now on no offer and no lock. A lock held is released by the stop, as always."""
        state, effects = attrs.evolve(self, stopping=True).withdrawn()
        return state, effects

    def withdrawn(self, effects: tuple[Any, ...] = ()) -> Decision[Lease]:
        """`effects` and, if this instance offers to take over, the offer's withdrawal."""
        if not self.offered or self.session is None:
            return self, effects
        return attrs.evolve(self, offered=False), (*effects, Withdraw(STANDBY_KEY, self.instance, self.session))

    def stop(self) -> Decision[Lease]:
        """Subscribers hear the lock is given up before it is: they stop writing and unsealing first, and no share or
        reset is still on its way to a Vault when it is."""
        effects: list[Any] = []
        if self.leading:
            effects.append(Publish(LostLeadership("this instance is stopping")))
        if self.session is not None:
            # Nothing of the Unsealer's still on its way to a Vault once the lock is free, leading or not: a lease that
            # ran out a moment before the stop leaves the lock held in Consul, and its last reset may still be coming
            # in (long-run seed 27339 of 6ddc47d: released at once, taken 0.47 s later, the reset in after that).
            effects.append(ShutGate())
            effects.append(Release(LEADER_KEY, self.instance, self.session, self.check_id))
        return attrs.evolve(self, leading=False, session=None, doing=None), tuple(effects)
