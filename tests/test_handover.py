"""Leadership that yields (issue 28): an active instance that cannot list the Swarm hands the lock to a standby that
can (neon_cm/handover.py, in the Lease decider), and keeps it when none can."""

from __future__ import annotations

from typing import Any

import pytest

from messages.consul_answers import (
    CheckPassed,
    CheckRegistered,
    ConsulRefused,
    HolderRead,
    LockAcquired,
    LockBusy,
    SessionChecksRead,
    SessionCreated,
    SessionRenewed,
)
from messages.leadership import LostLeadership
from messages.lifecycle import ActorRestarted, SupervisionGaveUp
from messages.log import Level
from messages.swarm import NodeListFailed, NodesObserved, SwarmNode
from neon_cm.decider import Log, Publish, TimerFired
from neon_cm.handover import DEAD_UNFIT_SECONDS, STANDBY_KEY, UNFIT_FAILURES, YIELD_BACKOFF_SECONDS, Fitness
from neon_cm.keys import LEADER_KEY
from neon_cm.lease import (
    READING_HOLDER_CHECKS,
    STEP,
    Acquire,
    DestroySession,
    Lease,
    PassCheck,
    ReadHolder,
    ShutGate,
    Start,
    Withdraw,
)
from sim import cluster
from sim import judge as j
from tests.test_sim_cluster import plan, scripted

LISTED = NodesObserved((SwarmNode("n1", "manager-1", "manager", "10.0.0.1"),))
FAILED = NodeListFailed("TimeoutError: no answer within 10 s (is the daemon hung?)")
ME = "host:1:ab"
#: The read of the lock that follows every pass of an active instance, finding its own session there.
MINE = HolderRead("s1", ME)


def calls(effects: tuple[Any, ...]) -> list[Any]:
    return [effect for effect in effects if isinstance(effect, (Acquire, ReadHolder, Withdraw, PassCheck))]


def lines(effects: tuple[Any, ...], level: Level) -> list[str]:
    return [effect.text for effect in effects if isinstance(effect, Log) and effect.level == level]


def leading(now: float = 100.0) -> Lease:
    lease = Lease(ME)
    for event in (Start(), CheckRegistered(), SessionCreated("s1"), LockAcquired()):
        lease, _ = lease.decide(event, now)
    assert lease.leading
    return lease


def unfit(lease: Lease, now: float) -> Lease:
    for _ in range(UNFIT_FAILURES):
        lease, effects = lease.decide(FAILED, now)
        assert () == effects
    return lease


def test_fitness_is_the_last_listings() -> None:
    assert not Fitness().fit  # it has shown nothing yet
    assert Fitness().succeeded().fit
    assert not Fitness().succeeded().failed().fit
    assert not Fitness().succeeded().failed().unfit
    assert Fitness().succeeded().failed().failed().unfit
    assert Fitness().failed().failed().succeeded().fit


def test_a_listing_older_than_the_last_failure_is_no_news() -> None:
    """The simulator's seed 437: the SwarmWatcher, blocked 14 s on a hung daemon, answered a restarted (here: just
    started) Leadership's request for its view only after the failure, with the listing of 0.03 s; counted as a
    success, it reset the failures, and the active instance whose Docker hung handed over 37 s after the hang instead
    of about 27 s. A listing's time says which is news."""
    fitness = Fitness().succeeded(0.03).failed(14.0).succeeded(0.03).failed(24.0)
    assert fitness.unfit
    assert Fitness().succeeded(0.03).failed(14.0).succeeded(17.0).fit
    assert Fitness().succeeded().failed().succeeded().fit  # no times (a test's messages): each counts

    lease = leading()
    for event in (
        NodesObserved(LISTED.nodes, at=0.03),
        NodeListFailed(FAILED.error, at=14.0),
        NodesObserved(LISTED.nodes, at=0.03),
        NodeListFailed(FAILED.error, at=24.0),
    ):
        lease, _ = lease.decide(event, 24.0)
    assert lease.fitness.unfit


def test_an_unfit_active_instance_hands_the_lock_to_a_fit_standby_and_backs_off() -> None:
    lease = unfit(leading(100.0), 100.2)
    lease, effects = lease.decide(TimerFired(STEP), 101.0)
    lease, effects = lease.decide(CheckPassed(), 101.0)
    assert [ReadHolder(LEADER_KEY)] == calls(effects)
    lease, effects = lease.decide(MINE, 101.0)
    assert [ReadHolder(STANDBY_KEY)] == calls(effects)

    lease, effects = lease.decide(HolderRead("s2", "other:2:cd"), 101.0)

    assert not lease.leading
    told = [effect for effect in effects if isinstance(effect, (Publish, ShutGate, Withdraw))]
    reason = (
        "it cannot list the Swarm's nodes (2 listings failed in a row) and other:2:cd can; it hands the lock over "
        f"and does not try it again for {YIELD_BACKOFF_SECONDS:g} s"
    )
    # Its subscribers stop writing and unsealing, and its shares on their way are answered, before the lock is released.
    assert [Publish(LostLeadership(reason)), ShutGate(), Withdraw(LEADER_KEY, ME, "s1")] == told
    assert [f"this instance is no longer active: {reason}; it stops writing and unsealing"] == lines(
        effects, Level.WARN
    )

    # The backoff: its steps read who holds the lock, never try it; after the backoff it competes again.
    for now, expected in (
        (101.5, ReadHolder(LEADER_KEY)),
        (101.0 + YIELD_BACKOFF_SECONDS, Acquire(LEADER_KEY, ME, "s1")),
    ):
        lease, _ = lease.decide(TimerFired(STEP), now)
        lease, _ = lease.decide(CheckPassed(), now)
        lease, effects = lease.decide(SessionRenewed(), now)
        assert [expected] == calls(effects)
        lease, _ = lease.decide(HolderRead("s2", "other:2:cd") if isinstance(expected, ReadHolder) else LockBusy(), now)
        if isinstance(expected, Acquire):
            lease, _ = lease.decide(HolderRead("s2", "other:2:cd"), now)
        if lease.doing == READING_HOLDER_CHECKS:  # a standby reads a new holder's checks (none missing here)
            lease, _ = lease.decide(SessionChecksRead("s2", ()), now)
        assert lease.doing is None


def test_with_no_fit_standby_the_unfit_active_keeps_the_lock_and_says_so_once() -> None:
    lease = unfit(leading(100.0), 100.2)
    said: list[str] = []
    for now in (101.0, 102.0):
        lease, _ = lease.decide(TimerFired(STEP), now)
        lease, _ = lease.decide(CheckPassed(), now)
        lease, _ = lease.decide(MINE, now)
        lease, effects = lease.decide(HolderRead(None, None), now)
        said += lines(effects, Level.WARN)
        assert lease.leading

    assert [
        "this instance cannot list the Swarm's nodes (2 listings failed in a row) and no standby that can is known: "
        "it keeps the lock"
    ] == said
    # Listing again: the holder check and nothing of the standby key.
    lease, _ = lease.decide(LISTED, 102.5)
    lease, _ = lease.decide(TimerFired(STEP), 103.0)
    lease, effects = lease.decide(CheckPassed(), 103.0)
    lease, confirmed = lease.decide(MINE, 103.0)
    assert STANDBY_KEY not in str(calls(effects) + calls(confirmed))


def test_one_failed_listing_is_not_enough_to_hand_over() -> None:
    lease = leading(100.0).decide(FAILED, 100.2)[0]
    lease, _ = lease.decide(TimerFired(STEP), 101.0)
    lease, effects = lease.decide(CheckPassed(), 101.0)
    lease, confirmed = lease.decide(MINE, 101.0)
    assert STANDBY_KEY not in str(calls(effects) + calls(confirmed))


def standby(now: float = 0.0) -> Lease:
    """A standby with session s2 that tried the lock once (held by another)."""
    lease = Lease("other:2:cd")
    for event in (Start(), CheckRegistered(), SessionCreated("s2"), LockBusy(), HolderRead("s1", ME)):
        lease, _ = lease.decide(event, now)
    return lease


def standby_step(lease: Lease, now: float) -> tuple[Lease, tuple[Any, ...]]:
    lease, _ = lease.decide(TimerFired(STEP), now)
    lease, _ = lease.decide(CheckPassed(), now)
    return lease.decide(SessionRenewed(), now)


def test_a_standby_offers_while_it_can_list_and_withdraws_when_it_cannot() -> None:
    lease = standby().decide(LISTED, 0.1)[0]
    lease, effects = standby_step(lease, 0.5)
    assert [Acquire(STANDBY_KEY, "other:2:cd", "s2")] == calls(effects)
    lease, effects = lease.decide(LockAcquired(), 0.5)
    assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)
    assert lease.offered
    lease, _ = lease.decide(LockBusy(), 0.5)
    lease, _ = lease.decide(HolderRead("s1", ME), 0.5)

    lease, effects = standby_step(lease, 1.0)  # offered already: straight to the lock
    assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)
    lease, _ = lease.decide(LockBusy(), 1.0)
    lease, _ = lease.decide(HolderRead("s1", ME), 1.0)

    lease, _ = lease.decide(FAILED, 1.2)
    lease, effects = standby_step(lease, 1.5)
    assert [Withdraw(STANDBY_KEY, "other:2:cd", "s2"), Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)
    assert not lease.offered


def test_taking_the_lock_withdraws_the_offer() -> None:
    lease = standby().decide(LISTED, 0.1)[0]
    lease, _ = standby_step(lease, 0.5)
    lease, _ = lease.decide(LockAcquired(), 0.5)
    lease, effects = lease.decide(LockAcquired(), 0.5)
    assert lease.leading
    assert [Withdraw(STANDBY_KEY, "other:2:cd", "s2")] == calls(effects)


def test_a_refused_offer_is_one_error_and_the_lock_is_still_tried() -> None:
    """A token whose policy predates the standby key: the lock works as before, the offer is tried every 5 min."""
    lease = standby().decide(LISTED, 0.1)[0]
    lease, _ = standby_step(lease, 0.5)
    lease, effects = lease.decide(ConsulRefused(f"acquiring {STANDBY_KEY}", "permission denied (403)"), 0.5)

    assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)
    assert 1 == len(lines(effects, Level.ERROR))
    assert "examples/consul-acl-policy.hcl" in lines(effects, Level.ERROR)[0]
    lease, _ = lease.decide(LockBusy(), 0.5)
    lease, _ = lease.decide(HolderRead("s1", ME), 0.5)
    lease, effects = standby_step(lease, 60.0)
    assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)


def test_an_older_session_of_this_instance_holding_the_standby_key_is_destroyed_not_handed_to() -> None:
    """The operator tryout (slot 24, real Consul 1.8.7): a snapshot restore brought back an older session of an
    instance holding STANDBY_KEY, bound to its check that passes again. Active and unable to list, that instance read
    its own name there and handed the lock "to" itself; standing by, its offers were busy for good and no other
    standby could offer. It destroys that session instead (one WARN), and hands nothing to itself."""
    lease = unfit(leading(100.0), 100.2)
    lease, _ = lease.decide(TimerFired(STEP), 100.5)
    lease, _ = lease.decide(CheckPassed(), 100.5)
    lease, effects = lease.decide(MINE, 100.5)
    assert [ReadHolder(STANDBY_KEY)] == calls(effects)

    lease, effects = lease.decide(HolderRead("s0", ME), 100.5)

    assert lease.leading
    assert [DestroySession("s0")] == [e for e in effects if isinstance(e, DestroySession)]
    assert [] == [e for e in effects if isinstance(e, Withdraw)]
    assert (
        1 == len(lines(effects, Level.WARN)) and "older session of this instance (s0)" in lines(effects, Level.WARN)[0]
    )


def test_a_standby_whose_offer_is_busy_reads_who_holds_the_key_and_frees_its_own_older_session() -> None:
    lease = standby().decide(LISTED, 0.1)[0]
    lease, effects = standby_step(lease, 0.5)
    assert [Acquire(STANDBY_KEY, "other:2:cd", "s2")] == calls(effects)

    lease, effects = lease.decide(LockBusy(), 0.5)
    assert [ReadHolder(STANDBY_KEY)] == calls(effects)
    lease, effects = lease.decide(HolderRead("s0", "other:2:cd"), 0.5)

    assert [DestroySession("s0")] == [e for e in effects if isinstance(e, DestroySession)]
    assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)
    lease, _ = lease.decide(LockBusy(), 0.5)
    lease, _ = lease.decide(HolderRead("s1", ME), 0.5)
    lease, effects = standby_step(lease, 6.0)  # tried again after OFFER_RETRY_SECONDS: another standby's is left
    assert [Acquire(STANDBY_KEY, "other:2:cd", "s2")] == calls(effects)
    lease, _ = lease.decide(LockBusy(), 6.0)
    lease, effects = lease.decide(HolderRead("s9", "third:3:ef"), 6.0)
    assert [] == [e for e in effects if isinstance(e, DestroySession)]
    assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)


# ---------------------------------------------------------------------------------------------- in the simulator


def the_holders_docker_fails(kind: str) -> cluster.Cluster:
    """The world of the real service (sim/cluster.py), two instances: at 3 s the lock holder's own Docker hangs (or
    refuses) until the end; at 4 s a label changes. The definition must follow the Swarm through the other instance
    within the stated bound (`follows the Swarm`)."""
    world = scripted(5, instances=2)

    def fail() -> None:
        now = world.sim.now()
        holder = world.consul.holder(now) or world.services[0].name
        world.own_docker[holder] = (kind, now)
        world.add(j.OwnDockerFails(now, holder, now))

    def relabel() -> None:
        world.docker.label(world.sim.now(), 3, "io.neon.compute.cores", "16")

    plan(
        world,
        (3.0, (fail, f"the holder's own Docker {kind} until the end"), "own_docker"),
        (4.0, (relabel, "a label"), "label"),
    )
    world.until = 50.0
    return world


@pytest.mark.parametrize("kind", ["hangs", "refuses"])
def test_the_simulated_definition_follows_the_swarm_when_the_holders_docker_fails(kind: str) -> None:
    world = the_holders_docker_fails(kind)
    result = world.run()

    assert result.ok, result.report(30)
    failing = world.history.of(j.OwnDockerFails)[0]
    takers = [record.owner for record in world.history.of(j.LockAcquired) if record.t > failing.t]
    assert takers and failing.instance not in takers[-1:]


def test_without_the_handover_the_simulated_definition_stays_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariant catches the behaviour before issue 28 (the active instance keeps the lock)."""
    monkeypatch.setattr(Fitness, "unfit", property(lambda self: False))

    result = the_holders_docker_fails("hangs").run()

    assert j.FOLLOWS_THE_SWARM == result.invariant, result.report(10)


WATCHER_RESTARTED = ActorRestarted("definition", "swarm-watcher")


def test_an_active_whose_swarm_watcher_crash_loops_hands_the_lock_to_a_fit_standby() -> None:
    """A SwarmWatcher that dies lists nothing, so it fails no listing either: the long run's seeds 5176, 5191 and 11602
    (a holder's watcher in a 32-40 s crash loop kept the lock while a standby could list). A crash of the watcher, or
    of the definition side around it, ends its listing without a result: counted as a failed listing."""
    lease = leading(100.0).decide(LISTED, 100.1)[0]
    for restarted in (WATCHER_RESTARTED, ActorRestarted("service", "definition")):
        lease, effects = lease.decide(restarted, 100.2)
        assert () == effects
    assert lease.fitness.unfit
    lease, _ = lease.decide(TimerFired(STEP), 101.0)
    lease, _ = lease.decide(CheckPassed(), 101.0)
    lease, effects = lease.decide(MINE, 101.0)
    assert [ReadHolder(STANDBY_KEY)] == calls(effects)

    lease, effects = lease.decide(HolderRead("s2", "other:2:cd"), 101.0)

    assert not lease.leading
    reason = (
        "it cannot list the Swarm's nodes (its SwarmWatcher died 2 times in a row) and other:2:cd can; it hands the "
        f"lock over and does not try it again for {YIELD_BACKOFF_SECONDS:g} s"
    )
    assert [Publish(LostLeadership(reason)), ShutGate(), Withdraw(LEADER_KEY, ME, "s1")] == [
        effect for effect in effects if isinstance(effect, (Publish, ShutGate, Withdraw))
    ]


def test_one_crash_then_a_listing_is_fit_and_other_actors_crashes_do_not_count() -> None:
    lease = leading(100.0).decide(LISTED, 100.1)[0]
    for other in ("definition-publisher", "node-events", "vault-fleet"):
        lease, _ = lease.decide(ActorRestarted("definition", other), 100.2)
    lease, _ = lease.decide(WATCHER_RESTARTED, 100.3)
    assert not lease.fitness.unfit
    lease, _ = lease.decide(NodesObserved(LISTED.nodes, at=101.4), 101.5)  # the restarted watcher listed
    lease, _ = lease.decide(WATCHER_RESTARTED, 102.0)
    assert not lease.fitness.unfit
    # A listing made before the crash and heard after it is no news (a restart is heard at Leadership's `now`).
    lease, _ = lease.decide(NodesObserved(LISTED.nodes, at=101.9), 102.1)
    lease, _ = lease.decide(FAILED, 103.0)
    assert lease.fitness.unfit
    assert "2 listings failed or ended by a crash in a row" == lease.fitness.why(103.0)


def test_a_definition_side_given_up_on_is_unfit_until_a_listing_and_a_standby_so_withdraws_its_offer() -> None:
    lease = leading(100.0).decide(LISTED, 100.1)[0]
    lease, _ = lease.decide(SupervisionGaveUp("definition", "swarm-watcher crashed, more than 5 restarts"), 100.2)
    assert lease.fitness.unfit
    assert "its SwarmWatcher is given up on (a crash loop)" == lease.fitness.why(100.2)
    lease, _ = lease.decide(SupervisionGaveUp("leadership", "..."), 100.3)  # not the listing side: no news
    assert lease.fitness.unfit

    offering = standby().decide(LISTED, 0.1)[0]
    offering, _ = standby_step(offering, 0.5)
    offering, _ = offering.decide(LockAcquired(), 0.5)
    offering, _ = offering.decide(LockBusy(), 0.5)
    offering, _ = offering.decide(HolderRead("s1", ME), 0.5)
    assert offering.offered
    for _ in range(UNFIT_FAILURES):
        offering, _ = offering.decide(WATCHER_RESTARTED, 0.7)
    offering, effects = standby_step(offering, 1.0)
    assert [Withdraw(STANDBY_KEY, "other:2:cd", "s2"), Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)


def test_a_standby_renews_its_offer_so_a_snapshot_restore_cannot_drop_it_unseen() -> None:
    """The long run's seed 17720: a snapshot saved while no standby held the standby key was restored after the
    standby took it; its session came back with the snapshot, the offer did not, and the standby, sure of its offer,
    never made it again: its peer, active with its Docker hung, found no standby that could list and kept the lock
    for good. A standby that offered acquires the key again every OFFER_RETRY_SECONDS (a no-op while it holds it)."""
    lease = standby().decide(LISTED, 0.1)[0]
    lease, effects = standby_step(lease, 0.5)
    assert [Acquire(STANDBY_KEY, "other:2:cd", "s2")] == calls(effects)
    lease, _ = lease.decide(LockAcquired(), 0.5)
    lease, _ = lease.decide(LockBusy(), 0.5)
    lease, _ = lease.decide(HolderRead("s1", ME), 0.5)
    for now, offers in ((1.0, False), (5.4, False), (5.5, True)):
        lease, effects = standby_step(lease, now)
        expected = [Acquire(STANDBY_KEY, "other:2:cd", "s2")] if offers else []
        assert [*expected, Acquire(LEADER_KEY, "other:2:cd", "s2")][:1] == calls(effects)
        if offers:
            lease, effects = lease.decide(LockAcquired(), now)  # taken again: the restore had freed it
            assert [Acquire(LEADER_KEY, "other:2:cd", "s2")] == calls(effects)
        lease, _ = lease.decide(LockBusy(), now)
        lease, _ = lease.decide(HolderRead("s1", ME), now)
        assert lease.offered

    # Another standby took the key meanwhile: this one reads who holds it, and is no longer offering.
    lease, effects = standby_step(lease, 10.5)
    assert [Acquire(STANDBY_KEY, "other:2:cd", "s2")] == calls(effects)
    lease, effects = lease.decide(LockBusy(), 10.5)
    assert [ReadHolder(STANDBY_KEY)] == calls(effects)
    assert not lease.offered


def test_an_active_whose_swarm_watcher_died_and_waits_out_a_long_backoff_hands_over_after_5_s() -> None:
    """The long run's seed 1719 of d52477d: the holder's SwarmWatcher died once, and its supervisor, after earlier
    crashes, restarts it only 16 s later: one death, no listing meanwhile. DEAD_UNFIT_SECONDS after the death with no
    listing since, it is unfit; a listing before then keeps it fit."""
    lease = leading(100.0).decide(LISTED, 100.1)[0]
    lease, _ = lease.decide(WATCHER_RESTARTED, 100.5)
    steps = [(101.0 + second, False) for second in range(int(DEAD_UNFIT_SECONDS))]  # a step a second
    for now, unfit in (*steps, (100.5 + DEAD_UNFIT_SECONDS, True)):
        lease, _ = lease.decide(TimerFired(STEP), now)
        lease, _ = lease.decide(CheckPassed(), now)
        lease, effects = lease.decide(MINE, now)
        assert ([ReadHolder(STANDBY_KEY)] if unfit else []) == calls(effects)
        if unfit:
            lease, effects = lease.decide(HolderRead("s2", "other:2:cd"), now)
    assert not lease.leading
    assert "its SwarmWatcher died 5.0 s ago and has not listed since" in str(effects)

    lease = leading(100.0).decide(LISTED, 100.1)[0]
    lease, _ = lease.decide(WATCHER_RESTARTED, 100.5)
    lease, _ = lease.decide(NodesObserved(LISTED.nodes, at=101.6), 101.6)  # restarted after 1 s, listed
    assert not lease.fitness.unfit_at(110.0)
