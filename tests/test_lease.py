"""The Lease decider: every step of the lock, its deadline, and the defects of the old Leadership (1, 3, 5)."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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
from messages.log import Level
from messages.swarm import NodesObserved, SwarmNode
from neon_cm.decider import Log, Publish, StartTimer, TimerFired
from neon_cm.handover import STANDBY_KEY
from neon_cm.keys import LEADER_KEY
from neon_cm.lease import (
    ACTIVE_SECONDS,
    DEADLINE,
    GIVE_UP_SECONDS,
    ORPHAN_READ_SECONDS,
    ORPHAN_SECONDS,
    READING_HOLDER_CHECKS,
    STANDBY_SECONDS,
    STEP,
    Acquire,
    CreateSession,
    DestroySession,
    Lease,
    OpenGate,
    PassCheck,
    ReadHolder,
    ReadSessionChecks,
    RegisterCheck,
    Release,
    RenewSession,
    ShutGate,
    Start,
    Stop,
    StopBegun,
    Withdraw,
)

CALLS = (RegisterCheck, CreateSession, PassCheck, RenewSession, Acquire, ReadHolder, ReadSessionChecks)


def calls(effects: tuple[Any, ...]) -> list[Any]:
    return [effect for effect in effects if isinstance(effect, CALLS)]


def published(effects: tuple[Any, ...]) -> list[Any]:
    return [effect.message for effect in effects if isinstance(effect, Publish)]


def lines(effects: tuple[Any, ...], level: Level | None = None) -> list[str]:
    return [effect.text for effect in effects if isinstance(effect, Log) and level in (None, effect.level)]


def timers(effects: tuple[Any, ...]) -> dict[str, float]:
    return {effect.key: effect.seconds for effect in effects if isinstance(effect, StartTimer)}


def leading_since(start: float = 100.0) -> Lease:
    """A lease that registered, created session `s1` and took the lock in a step started at `start`."""
    lease = Lease("host:1:ab")
    for event in (Start(), CheckRegistered(), SessionCreated("s1"), LockAcquired()):
        lease, _ = lease.decide(event, start)
    assert lease.leading
    return lease


def test_first_step_registers_creates_acquires_and_leads_until_the_deadline() -> None:
    """Start: register the check, create a session bound to it, take the lock: BecameLeader with the deadline
    `step start + TTL - margin`, the active interval, and a timer at the deadline."""
    lease = Lease("host:1:ab")
    seen: list[Any] = []
    for event, now in ((Start(), 10.0), (CheckRegistered(), 10.1), (SessionCreated("s1"), 10.2)):
        lease, effects = lease.decide(event, now)
        seen += calls(effects)
    lease, effects = lease.decide(LockAcquired(), 10.3)

    assert [
        RegisterCheck("neon-cluster-manager:host:1:ab", "neon-cluster-manager", 3.0),
        CreateSession("neon-cluster-manager host:1:ab", ("serfHealth", "neon-cluster-manager:host:1:ab")),
        Acquire(LEADER_KEY, "host:1:ab", "s1"),
    ] == seen
    assert [BecameLeader("host:1:ab", "s1", 10.0 + GIVE_UP_SECONDS)] == published(effects)
    assert [OpenGate(), Publish(BecameLeader("host:1:ab", "s1", 10.0 + GIVE_UP_SECONDS))] == [
        effect for effect in effects if isinstance(effect, (OpenGate, Publish))
    ]  # the Unsealer's shares may pass before it hears of the lease
    assert ["this instance (host:1:ab) is active"] == lines(effects, Level.INFO)
    assert {DEADLINE: 10.0 + GIVE_UP_SECONDS - 10.3, STEP: ACTIVE_SECONDS} == timers(effects)
    assert None is lease.doing


def test_every_pass_while_leading_extends_the_lease_from_the_pass_start() -> None:
    """A pass started at t, then a read of the lock finding this session its holder, extend the lease to
    t + TTL - margin (not from the answers' time), told as LeaseExtended, with the deadline timer moved."""
    lease = leading_since(100.0)
    lease, effects = lease.decide(TimerFired(STEP), 101.0)
    assert [PassCheck(lease.check_id)] == calls(effects)
    lease, effects = lease.decide(CheckPassed(), 101.3)
    assert [ReadHolder(LEADER_KEY)] == calls(effects)
    assert [] == published(effects)
    lease, effects = lease.decide(HolderRead("s1", "host:1:ab"), 101.4)

    assert [LeaseExtended("s1", 101.0 + GIVE_UP_SECONDS)] == published(effects)
    assert {DEADLINE: 101.0 + GIVE_UP_SECONDS - 101.4} == timers(effects)
    assert 101.0 + GIVE_UP_SECONDS == lease.valid_until


def test_a_session_destroyed_while_its_check_passes_ends_the_lease_at_the_next_pass() -> None:
    """Issue 27: `consul session destroy` (or serfHealth critical, a snapshot restore) releases the lock while the
    TTL check keeps passing. The pass alone extends nothing: the read of the lock that follows every pass finds
    no holder, and the instance steps down there, without the lease being extended first."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.0)
    lease, effects = lease.decide(CheckPassed(), 101.1)
    told = published(effects)
    lease, effects = lease.decide(HolderRead(None, None), 101.2)
    told += published(effects)

    assert [LostLeadership(f"{LEADER_KEY} is no longer held by this instance")] == told
    assert not lease.leading


def test_a_read_that_fails_after_a_pass_extends_nothing() -> None:
    """The lock cannot be confirmed (an election: 500 No cluster leader): the lease is not extended, and ends at
    its deadline unless a later step confirms it."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.0)
    lease, _ = lease.decide(CheckPassed(), 101.1)
    lease, effects = lease.decide(ConsulUnreachable("reading neon/x", "ConsulException: 500 No cluster leader"), 101.2)

    assert [] == [message for message in published(effects) if isinstance(message, LeaseExtended)]
    assert 100.0 + GIVE_UP_SECONDS == lease.valid_until


def test_an_election_is_said_as_what_it_is() -> None:
    """Consul answered that its servers have no leader: the ERROR says so, not `cannot reach Consul`."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.0)
    lease, _ = lease.decide(CheckPassed(), 101.1)
    election = ConsulUnreachable("reading x", "ConsulException: 500 No cluster leader", leaderless=True)
    lease, effects = lease.decide(election, 101.2)

    assert [
        "Consul is up but its servers did not answer (an election, or the server the agent asked went away) for the"
        " instance lock (ConsulException: 500 No cluster leader); retrying"
    ] == lines(effects, Level.ERROR)


def test_a_pass_answered_after_the_deadline_extends_nothing() -> None:
    """Issue 26, defect 1: the shell blocks on a slow pass, so its late 200 is handled before the deadline timer.
    A pass sent before the deadline but answered after it may have reached Consul after the check went critical
    (the session and the lock gone): it must not extend the lease, however early it started. The instance steps
    down at once; the next step finds out with a renewal."""
    lease = leading_since(100.0)  # valid until 102.0; the check turns critical at 103.0 without a pass
    lease, _ = lease.decide(TimerFired(STEP), 101.8)
    lease, effects = lease.decide(CheckPassed(), 103.1)  # the agent took it after 103.0: the check revived

    assert not lease.leading
    assert [LostLeadership("its lease ran out before its check pass was answered")] == published(effects)
    assert [] == [message for message in published(effects) if isinstance(message, LeaseExtended)]


def test_a_pass_answered_just_before_the_deadline_extends_from_its_start() -> None:
    """The answer before the deadline proves the pass reached Consul before the check could turn critical (the
    deadline is a margin before that): with the lock confirmed before the deadline too, the lease runs on from the
    pass's start."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.8)
    lease, _ = lease.decide(CheckPassed(), 101.98)
    lease, effects = lease.decide(HolderRead("s1", "host:1:ab"), 101.99)

    assert lease.leading
    assert [LeaseExtended("s1", 101.8 + GIVE_UP_SECONDS)] == published(effects)


def test_check_gone_with_acls_re_registers_and_leads_again() -> None:
    """Defect 1: Consul 1.8 with ACLs answers a pass of a deregistered check 500 `Unknown check`. The instance
    steps down, registers its check again, takes a new session and the lock: active again, never "an outage
    forever" (the old Leadership took the answer for an outage and never re-registered)."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.0)
    lease, effects = lease.decide(CheckGone('500 Unknown check "neon-cluster-manager:host:1:ab"'), 101.1)
    step_down = published(effects)
    again = calls(effects)
    for event in (CheckRegistered(), SessionCreated("s2")):
        lease, effects = lease.decide(event, 101.2)
        again += calls(effects)
    lease, effects = lease.decide(LockAcquired(), 101.3)

    assert [LostLeadership("this instance's Consul check is gone")] == step_down
    assert [RegisterCheck, CreateSession, Acquire] == [type(call) for call in again]
    assert "s2" == again[-1].session
    assert [BecameLeader("host:1:ab", "s2", 101.1 + GIVE_UP_SECONDS)] == published(effects)


def test_check_gone_while_standing_by_re_registers_too() -> None:
    """Defect 1 on a standby (404 on newer Consul, which py-consul returns as False): it registers again at once."""
    lease = Lease("host:1:ab")
    for event in (Start(), CheckRegistered(), SessionCreated("s1"), LockBusy(), HolderRead("s0", "other")):
        lease, _ = lease.decide(event, 5.0)
    lease, _ = lease.decide(TimerFired(STEP), 5.5)
    lease, effects = lease.decide(CheckGone("404: no such check"), 5.6)

    assert [RegisterCheck(lease.check_id, "neon-cluster-manager", 3.0)] == calls(effects)
    assert [] == published(effects)
    assert None is lease.session


def test_step_down_comes_by_the_deadline_timer_while_a_step_hangs() -> None:
    """Defect 5, second half: a pass that hangs past the deadline does not delay the step-down (the old Ticker
    skipped ticks while a step ran): the deadline timer steps down at `last pass start + TTL - margin`, and a
    late success of the hanging pass gives no lease (its start + TTL - margin has passed too)."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.0)  # the pass hangs
    lease, missed = lease.decide(TimerFired(STEP), 102.0)
    lease, effects = lease.decide(TimerFired(DEADLINE), 100.0 + GIVE_UP_SECONDS)
    deadline_effects = effects
    lease, effects = lease.decide(CheckPassed(), 103.5)
    lease, effects = lease.decide(SessionRenewed(), 103.6)
    lease, effects = lease.decide(LockAcquired(), 103.7)

    assert () == missed
    assert [LostLeadership(f"its check and lock not confirmed by Consul for over {GIVE_UP_SECONDS:g} s")] == published(
        deadline_effects
    )
    assert not lease.leading
    assert [] == published(effects)
    assert 0 == timers(effects).get(STEP)  # the missed tick: the next step at once


def test_unreachable_consul_keeps_the_lease_until_its_deadline_and_says_so_once() -> None:
    """An outage while leading: one ERROR, no step-down before the deadline, a step-down at it; INFO once
    Consul answers again."""
    lease = leading_since(100.0)
    errors: list[str] = []
    told: list[Any] = []
    for now in (101.0, 101.5):
        lease, _ = lease.decide(TimerFired(STEP), now)
        lease, effects = lease.decide(ConsulUnreachable("passing its check", "ConnectionError: refused"), now + 0.1)
        errors += lines(effects, Level.ERROR)
        told += published(effects)
    lease, effects = lease.decide(TimerFired(DEADLINE), 102.0)
    told += published(effects)
    lease, _ = lease.decide(TimerFired(STEP), 102.5)
    for event in (CheckPassed(), SessionRenewed()):
        lease, _ = lease.decide(event, 102.6)
    lease, effects = lease.decide(LockAcquired(), 102.7)

    assert ["cannot reach Consul for the instance lock (ConnectionError: refused); retrying"] == errors
    assert [LostLeadership(f"its check and lock not confirmed by Consul for over {GIVE_UP_SECONDS:g} s")] == told
    assert ["this instance (host:1:ab) is active", "reaching Consul again for the instance lock"] == lines(
        effects, Level.INFO
    )


def test_a_refused_session_is_one_error_naming_the_step() -> None:
    """A token without session rights: one ERROR per 5 minutes naming the step; it keeps trying."""
    lease = Lease("host:1:ab")
    errors = []
    for now in (0.0, 0.5, 301.0):
        lease, _ = lease.decide(TimerFired(STEP) if now else Start(), now)
        lease, _ = lease.decide(CheckRegistered(), now)
        lease, effects = lease.decide(ConsulRefused("creating a session", "permission denied (403): no"), now)
        errors += lines(effects, Level.ERROR)

    assert 2 * ["Consul refused creating a session for the instance lock: permission denied (403): no; retrying"] == (
        errors
    )


def test_standby_says_once_who_is_active_and_when_nobody_is() -> None:
    """The acquire fails: read the holder, StandingBy once per holder; LostLeadership when nobody holds it."""
    lease = Lease("host:1:ab")
    told: list[Any] = []
    for holder in ("other", "other", None):
        lease, _ = lease.decide(TimerFired(STEP) if lease.session else Start(), 0.0)
        for event in (CheckRegistered(), SessionCreated("s1")) if lease.doing == "registering its check" else ():
            lease, _ = lease.decide(event, 0.0)
        if lease.doing == "passing its check":
            lease, _ = lease.decide(CheckPassed(), 0.0)
            lease, _ = lease.decide(SessionRenewed(), 0.0)
        lease, effects = lease.decide(LockBusy(), 0.0)
        assert [ReadHolder(LEADER_KEY)] == calls(effects)
        lease, effects = lease.decide(HolderRead("s0" if holder else None, holder), 0.0)
        told += published(effects)
        if lease.doing == READING_HOLDER_CHECKS:
            lease, _ = lease.decide(SessionChecksRead("s0", ()), 0.0)

    assert [StandingBy("other"), LostLeadership("no instance holds the lock")] == told
    assert LostLeadership("no instance is known to be active") == lease.view()


def test_holder_is_read_at_every_pass_and_a_lost_key_steps_down() -> None:
    """While leading, every pass is followed by a read of the lock; held by another session: step down."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 100.0 + ACTIVE_SECONDS)
    lease, effects = lease.decide(CheckPassed(), 100.0 + ACTIVE_SECONDS)
    assert [ReadHolder(LEADER_KEY)] == calls(effects)
    lease, effects = lease.decide(HolderRead("s9", "intruder"), 100.0 + ACTIVE_SECONDS)

    assert [LostLeadership(f"{LEADER_KEY} is no longer held by this instance")] == published(effects)
    assert STANDBY_SECONDS == timers(effects)[STEP]


def test_the_lock_held_by_an_older_session_of_this_instance_is_freed_not_waited_on() -> None:
    """Seeds 365 and 456 of the simulator: a snapshot restored after this instance lost its session brings that
    session back, bound to the check this instance registered again under the same ID and keeps passing, so it
    never lapses. Its value is this instance's own name: no other instance uses it, so the instance destroys that
    session (which frees the lock, taken at the next step), says so once, and never stands by for itself."""
    lease = Lease("host:1:ab")
    for event in (Start(), CheckRegistered(), SessionCreated("s2"), LockBusy()):
        lease, _ = lease.decide(event, 0.0)

    lease, effects = lease.decide(HolderRead("s1", "host:1:ab"), 0.0)

    assert [DestroySession("s1")] == [e for e in effects if isinstance(e, DestroySession)]
    assert [] == [m for m in published(effects) if isinstance(m, StandingBy)]
    assert 1 == len(lines(effects, Level.WARN)) and "older session of this instance (s1)" in lines(effects)[0]
    lease, _ = lease.decide(TimerFired(STEP), 0.5)
    lease, _ = lease.decide(CheckPassed(), 0.5)
    lease, effects = lease.decide(SessionRenewed(), 0.5)
    assert [Acquire(LEADER_KEY, "host:1:ab", "s2")] == calls(effects)
    lease, _ = lease.decide(LockBusy(), 0.5)  # the destroy did not go through: tried again, said once
    lease, effects = lease.decide(HolderRead("s1", "host:1:ab"), 0.5)
    assert [DestroySession("s1")] == [e for e in effects if isinstance(e, DestroySession)]
    assert [] == lines(effects, Level.WARN)
    lease, effects = lease.decide(TimerFired(STEP), 1.0)
    lease, _ = lease.decide(CheckPassed(), 1.0)
    lease, _ = lease.decide(SessionRenewed(), 1.0)
    lease, effects = lease.decide(LockAcquired(), 1.0)
    assert lease.leading


def standby_reads(lease: Lease, now: float, holder: HolderRead) -> tuple[Lease, tuple[Any, ...]]:
    """A standby's step at `now` that finds `holder` holding the lock."""
    lease, _ = lease.decide(TimerFired(STEP), now)
    lease, _ = lease.decide(CheckPassed(), now)
    lease, _ = lease.decide(SessionRenewed(), now)
    lease, _ = lease.decide(LockBusy(), now)
    return lease.decide(holder, now)


def test_a_lock_held_by_a_session_whose_check_the_agent_lacks_is_freed_after_the_checks_ttl() -> None:
    """Seed 846 of the simulator: a snapshot restore brings back a dead instance's session, bound to its check
    that a later instance deregistered (critical); Consul keeps it until its agent's anti-entropy sync, 60-120 s
    later. A standby reads the holder's checks every ORPHAN_READ_SECONDS, then at every step while one is missing,
    and destroys the session once it has been missing for ORPHAN_SECONDS (the holder's lease, at most
    GIVE_UP_SECONDS past a pass that preceded the deregistration, is over), saying so once; it is not destroyed
    when the check is back, nor when the holder changed."""
    lease = Lease("host:1:ab")
    for event in (Start(), CheckRegistered(), SessionCreated("s2"), LockBusy()):
        lease, _ = lease.decide(event, 0.0)
    dead = HolderRead("s1", "host:9:dead")
    lease, effects = lease.decide(dead, 0.0)
    assert [StandingBy("host:9:dead")] == published(effects)
    assert [ReadSessionChecks("s1", "neon-cluster-manager:host:1:ab")] == calls(effects)
    lease, effects = lease.decide(SessionChecksRead("s1", ()), 0.0)  # all there: the holder may well be alive
    assert ([], None) == (calls(effects), lease.doing)
    lease, effects = standby_reads(lease, 0.5, dead)
    assert [] == calls(effects)  # read again only ORPHAN_READ_SECONDS later
    now = ORPHAN_READ_SECONDS
    lease, effects = standby_reads(lease, now, dead)
    assert [ReadSessionChecks("s1", "neon-cluster-manager:host:1:ab")] == calls(effects)
    lease, effects = lease.decide(SessionChecksRead("s1", ("neon-cluster-manager:host:9:dead",)), now)
    first = now
    destroyed: list[DestroySession] = []
    while not destroyed:
        now += STANDBY_SECONDS
        lease, effects = standby_reads(lease, now, dead)
        assert [ReadSessionChecks("s1", "neon-cluster-manager:host:1:ab")] == calls(effects)  # every step now
        lease, effects = lease.decide(SessionChecksRead("s1", ("neon-cluster-manager:host:9:dead",)), now)
        destroyed = [e for e in effects if isinstance(e, DestroySession)]
        assert destroyed == [] or now - first >= ORPHAN_SECONDS
    assert [DestroySession("s1")] == destroyed and now - first < ORPHAN_SECONDS + STANDBY_SECONDS
    assert 1 == len(lines(effects, Level.WARN)) and "neon-cluster-manager:host:9:dead" in lines(effects)[0]
    assert lease.doing is None


def test_a_holders_check_back_or_another_holder_starts_the_count_again() -> None:
    """Missing, then present again (registered again by its instance): nothing destroyed, and a new sighting
    counts from itself; a new holding session too."""
    lease = Lease("host:1:ab")
    for event in (Start(), CheckRegistered(), SessionCreated("s2"), LockBusy(), HolderRead("s1", "x")):
        lease, _ = lease.decide(event, 0.0)
    missing = ("neon-cluster-manager:x",)
    lease, _ = lease.decide(SessionChecksRead("s1", missing), 0.0)
    lease, _ = standby_reads(lease, 2.0, HolderRead("s1", "x"))
    lease, _ = lease.decide(SessionChecksRead("s1", ()), 2.0)
    lease, effects = standby_reads(lease, 3.5, HolderRead("s1", "x"))
    assert [] == calls(effects)  # no longer suspect: read again only ORPHAN_READ_SECONDS after the last read
    lease, _ = standby_reads(lease, 7.0, HolderRead("s1", "x"))
    lease, _ = lease.decide(SessionChecksRead("s1", missing), 7.0)
    lease, _ = standby_reads(lease, 8.0, HolderRead("s3", "y"))
    lease, effects = lease.decide(SessionChecksRead("s3", missing), 8.0)
    lease, _ = standby_reads(lease, 10.5, HolderRead("s3", "y"))
    lease, effects = lease.decide(SessionChecksRead("s3", missing), 10.5)
    assert [] == [e for e in effects if isinstance(e, DestroySession)]  # s3 missing since 8.0 only
    lease, _ = standby_reads(lease, 11.0, HolderRead("s3", "y"))
    lease, effects = lease.decide(SessionChecksRead("s3", missing), 11.0)
    assert [DestroySession("s3")] == [e for e in effects if isinstance(e, DestroySession)]


def test_session_gone_steps_down_and_creates_a_new_one_next_step() -> None:
    """Renew answers 404: the session is gone; the next step registers and creates a new one."""
    lease = Lease("host:1:ab")
    for event in (Start(), CheckRegistered(), SessionCreated("s1"), LockBusy(), HolderRead("s0", "other")):
        lease, _ = lease.decide(event, 0.0)
    lease, _ = lease.decide(TimerFired(STEP), 0.5)
    lease, _ = lease.decide(CheckPassed(), 0.5)
    lease, _ = lease.decide(SessionGone(), 0.5)
    lease, effects = lease.decide(TimerFired(STEP), 1.0)

    assert [RegisterCheck] == [type(call) for call in calls(effects)]


def test_a_stop_after_the_lease_ran_out_still_waits_for_what_is_on_its_way_before_releasing() -> None:
    """Long-run seed 27339 of 6ddc47d: the lease ran out (LostLeadership told) while the Unsealer's reset was on its
    way to a Vault slow to take it in; the stop (a rolling update's SIGTERM) then released the lock at once, a standby
    took it 0.47 s later, and the reset came in after that. The lock is still held in Consul until the release: the
    gate shuts, and what is on its way is answered, before it is released, leading or not."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(DEADLINE), 102.0)
    assert not lease.leading and lease.session == "s1"

    _, effects = lease.decide(Stop(), 102.1)

    assert [ShutGate(), Release(LEADER_KEY, "host:1:ab", "s1", lease.check_id)] == [
        effect for effect in effects if isinstance(effect, (Publish, ShutGate, Release))
    ]


def test_a_relock_answered_after_the_stop_began_waits_for_what_is_on_its_way_before_giving_the_lock_back() -> None:
    """The same hole as seed 27339 by another door: the lease ran out with the lock still held by the session (a
    share or reset may be on its way to a slow Vault), the next step tried the lock again, the stop began (a rolling
    update's SIGTERM) and the lock was won after it. Given back at once, a standby could take it before what is on
    its way came in: the gate shuts, and what is on its way is answered, before the lock is given back."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(DEADLINE), 102.0)
    assert not lease.leading and lease.session == "s1"
    for event in (TimerFired(STEP), CheckPassed(), SessionRenewed()):
        lease, effects = lease.decide(event, 102.1)
    assert [Acquire(LEADER_KEY, "host:1:ab", "s1")] == calls(effects)
    lease, _ = lease.decide(StopBegun(), 102.2)

    lease, effects = lease.decide(LockAcquired(), 102.3)

    assert not lease.leading
    assert [ShutGate(), Withdraw(LEADER_KEY, "host:1:ab", "s1")] == [
        effect for effect in effects if isinstance(effect, (ShutGate, Withdraw, Release))
    ]


def test_stop_tells_subscribers_before_giving_the_lock_up() -> None:
    """Defect 3: the shell's cleanup (clean stop or crash) tells LostLeadership, then releases the lock, so the
    publisher never stays on the dead session (the old cleanup released it and told no one). Seed 4153: in between
    the gate shuts and the shares and resets on their way are answered."""
    lease = leading_since(100.0)

    state, effects = lease.decide(Stop(), 100.5)

    assert [
        Publish(LostLeadership("this instance is stopping")),
        ShutGate(),
        Release(LEADER_KEY, "host:1:ab", "s1", lease.check_id),
    ] == [effect for effect in effects if isinstance(effect, (Publish, ShutGate, Release))]
    assert (False, None) == (state.leading, state.session)


# ---------------------------------------------------------------------------- once the instance's stop began

LISTED = NodesObserved((SwarmNode("n1", "manager-1", "manager", "10.0.0.1"),))


def fit_standby(now: float = 0.0) -> Lease:
    """A standby that can list, with session s2, holding STANDBY_KEY (it offered), the lock held by another."""
    lease = Lease("host:1:ab").decide(LISTED, now)[0]
    first: tuple[Any, ...] = (Start(), CheckRegistered(), SessionCreated("s2"), LockBusy(), HolderRead("s1", "other"))
    for event in first:
        lease, _ = lease.decide(event, now)
    for event in (TimerFired(STEP), CheckPassed(), SessionRenewed(), LockAcquired(), LockBusy()):
        lease, _ = lease.decide(event, now + 0.5)
    lease, _ = lease.decide(HolderRead("s1", "other:2:cd"), now + 0.5)
    assert lease.offered and lease.doing is None
    return lease


def test_a_stopping_standby_withdraws_its_offer_and_neither_offers_nor_tries_the_lock_again() -> None:
    """The long run's seed 1960: an instance told SIGTERM stops its children one by one (up to 3 s); its Leadership,
    stopped fourth, kept stepping meanwhile: it offered to take over and tried the lock with its publisher and Unsealer
    already stopped. Won, it would say active with nothing working (and an unfit holder hands the lock to an offer)."""
    lease = fit_standby(0.0)

    lease, effects = lease.decide(StopBegun(), 0.7)
    assert [Withdraw(STANDBY_KEY, "host:1:ab", "s2")] == [e for e in effects if isinstance(e, Withdraw)]
    assert not lease.offered
    assert [] == calls(effects)

    lease, effects = lease.decide(TimerFired(STEP), 1.0)
    assert [] == calls(effects)
    assert STEP not in timers(effects)
    assert not lease.leading

    _, effects = lease.decide(Stop(), 1.2)  # the stop gives up the session and the check, as always
    assert [Release(LEADER_KEY, "host:1:ab", "s2", lease.check_id)] == [e for e in effects if isinstance(e, Release)]


def test_a_step_under_way_as_the_stop_begins_takes_no_lock_and_makes_no_offer() -> None:
    # a new session created after the stop began: no lock tried with it
    lease = Lease("host:1:ab")
    lease, _ = lease.decide(Start(), 0.0)
    lease, _ = lease.decide(CheckRegistered(), 0.0)
    lease, _ = lease.decide(StopBegun(), 0.01)
    lease, effects = lease.decide(SessionCreated("s1"), 0.02)
    assert [] == calls(effects)
    assert ("s1", None) == (lease.session, lease.doing)

    # a renewal answered after it: no offer, no lock
    lease = fit_standby(0.0)
    lease = attrs.evolve(lease, offered=False)
    lease, _ = lease.decide(TimerFired(STEP), 1.0)
    lease, _ = lease.decide(CheckPassed(), 1.0)
    lease, _ = lease.decide(StopBegun(), 1.0)
    lease, effects = lease.decide(SessionRenewed(), 1.0)
    assert [] == calls(effects)
    assert lease.doing is None

    # an offer answered after it: withdrawn at once, no lock tried
    lease = attrs.evolve(fit_standby(0.0), offered=False, offer_tried=float("-inf"))
    for event in (TimerFired(STEP), CheckPassed(), SessionRenewed()):
        lease, effects = lease.decide(event, 1.0)
    assert [Acquire(STANDBY_KEY, "host:1:ab", "s2")] == calls(effects)
    lease, _ = lease.decide(StopBegun(), 1.0)
    lease, effects = lease.decide(LockAcquired(), 1.0)
    assert [] == calls(effects)
    assert [Withdraw(STANDBY_KEY, "host:1:ab", "s2")] == [e for e in effects if isinstance(e, Withdraw)]
    assert not lease.offered

    # the lock won by an attempt sent before the stop began: given back (once the gate is shut), never led on
    lease = fit_standby(0.0)
    for event in (TimerFired(STEP), CheckPassed(), SessionRenewed()):
        lease, effects = lease.decide(event, 1.0)
    assert [Acquire(LEADER_KEY, "host:1:ab", "s2")] == calls(effects)
    lease, _ = lease.decide(StopBegun(), 1.0)
    lease, effects = lease.decide(LockAcquired(), 1.0)
    assert not lease.leading
    assert [] == published(effects)
    assert Withdraw(LEADER_KEY, "host:1:ab", "s2") in effects


def test_a_stopping_active_instance_keeps_its_lease_until_its_stop_releases_it() -> None:
    """The lock is released as the stop always did: LostLeadership first (the subscribers stop writing and unsealing),
    then the release. Until the Leadership's own stop its lease is extended as before; once it ran out, the instance
    does not take the lock again."""
    lease = leading_since(100.0)
    lease, effects = lease.decide(StopBegun(), 100.2)
    assert ([], []) == (calls(effects), published(effects))
    assert lease.leading

    lease, effects = lease.decide(TimerFired(STEP), 101.0)
    assert [PassCheck(lease.check_id)] == calls(effects)
    lease, _ = lease.decide(CheckPassed(), 101.0)
    lease, effects = lease.decide(HolderRead("s1", "host:1:ab"), 101.0)
    assert [LeaseExtended("s1", 103.0)] == published(effects)

    lease, effects = lease.decide(TimerFired(DEADLINE), 103.0)  # a step hangs: the lease runs out
    assert not lease.leading
    lease, effects = lease.decide(TimerFired(STEP), 103.5)
    assert [] == calls(effects)


ANSWERS: dict[type, tuple[Any, ...]] = {
    RegisterCheck: (CheckRegistered(),),
    CreateSession: (SessionCreated("s-new"),),
    PassCheck: (CheckPassed(), CheckGone("500 Unknown check")),
    RenewSession: (SessionRenewed(), SessionGone()),
    Acquire: (LockAcquired(), LockBusy()),
    ReadHolder: (HolderRead("s-new", "me"), HolderRead("s-other", "other"), HolderRead(None, None)),
    ReadSessionChecks: (SessionChecksRead("s-other", ()), SessionChecksRead("s-other", ("check-other",))),
}
FAILURES = (ConsulUnreachable("x", "Timeout: slow"), ConsulRefused("x", "permission denied (403): no"))


class LeaseMachine(RuleBasedStateMachine):
    """Any order of answers, failures, timers and delays, and the instance's stop beginning at any moment: the lease
    never outlives the pass that gave it, one call at most is in flight, the lock is always being worked on (a step in
    flight or a step timer set) until the stop began, and from then on nothing is offered, tried or led on."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.lease = Lease("me")
        self.in_flight: Any = None
        self.pass_asked: float | None = None
        self.passed_at = float("-inf")
        """The start of the last pass Consul answered with success (or of the check's registration)."""
        self.pending: dict[str, float] = {}
        self.leading_told = False
        self.stop_begun = False
        self.apply(Start())

    def apply(self, event: Any) -> None:
        self.lease, effects = self.lease.decide(event, self.now)
        for effect in effects:
            if isinstance(effect, StartTimer):
                self.pending[effect.key] = self.now + effect.seconds
            elif isinstance(effect, CALLS):
                assert self.in_flight is None, f"{effect} while {self.in_flight} is in flight"
                assert not (self.stop_begun and isinstance(effect, Acquire)), f"{effect} after the stop began"
                self.in_flight = effect
                if isinstance(effect, (PassCheck, RegisterCheck)):
                    self.pass_asked = self.now
            elif isinstance(effect, Publish):
                message = effect.message
                if isinstance(message, BecameLeader):
                    assert not self.leading_told, "BecameLeader twice without LostLeadership"
                    assert not self.stop_begun, "BecameLeader after the stop began"
                    self.leading_told = True
                if isinstance(message, (BecameLeader, LeaseExtended)):
                    assert message.valid_until <= self.passed_at + GIVE_UP_SECONDS
                    assert message.valid_until > self.now
                if isinstance(message, LostLeadership):
                    self.leading_told = False

    @rule(seconds=st.sampled_from([0.1, 0.4, 0.9, 2.5]))
    def time_passes(self, seconds: float) -> None:
        target = self.now + seconds
        for key, due in sorted(self.pending.items(), key=lambda item: item[1]):
            if due <= target:
                self.now = max(self.now, due)
                del self.pending[key]
                self.apply(TimerFired(key))
        self.now = target

    @precondition(lambda self: not self.stop_begun)
    @rule()
    def the_stop_begins(self) -> None:
        self.stop_begun = True
        self.apply(StopBegun())

    @precondition(lambda self: self.in_flight is not None)
    @rule(data=st.data())
    def consul_answers(self, data: st.DataObject) -> None:
        call, self.in_flight = self.in_flight, None
        answer = data.draw(st.sampled_from(ANSWERS[type(call)] + FAILURES))
        if isinstance(answer, (CheckPassed, CheckRegistered)) and self.pass_asked is not None:
            self.passed_at = self.pass_asked
        self.apply(answer)

    @invariant()
    def the_lease_never_outlives_its_pass(self) -> None:
        if self.lease.leading:
            assert self.lease.valid_until <= self.passed_at + GIVE_UP_SECONDS
            assert self.leading_told

    @invariant()
    def the_lock_is_always_worked_on(self) -> None:
        assert self.in_flight is not None or STEP in self.pending or (self.stop_begun and not self.lease.leading)
        assert (self.in_flight is None) == (self.lease.doing is None)

    @invariant()
    def a_stopping_instance_offers_nothing(self) -> None:
        if self.stop_begun:
            assert not self.lease.offered

    @invariant()
    def leading_means_a_deadline_timer(self) -> None:
        if self.lease.leading:
            assert DEADLINE in self.pending or self.now >= self.lease.valid_until


TestLeaseMachine = LeaseMachine.TestCase
TestLeaseMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


def test_view_while_leading_carries_the_deadline() -> None:
    """A restarted subscriber hears BecameLeader with the session and the current deadline."""
    lease = attrs.evolve(leading_since(100.0), valid_until=105.0)

    assert BecameLeader("host:1:ab", "s1", 105.0) == lease.view()


def test_a_lock_read_answered_after_the_deadline_extends_nothing() -> None:
    """The pass came back in time, the read of the lock after it did not: nothing proves the session held the lock
    before it could expire, so the instance steps down rather than extend."""
    lease = leading_since(100.0)
    lease, _ = lease.decide(TimerFired(STEP), 101.8)
    lease, _ = lease.decide(CheckPassed(), 101.9)
    lease, effects = lease.decide(HolderRead("s1", "host:1:ab"), 102.1)

    assert not lease.leading
    assert [LostLeadership("its lease ran out before its lock was confirmed")] == published(effects)
