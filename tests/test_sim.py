"""The deterministic simulator (sim/): the seed sweep CI runs (the world of the real service, sim/cluster.py), exact
replay, and the regression scenarios: issue 17's defects (each old behaviour put back into the code that ships as
its member of sim/mutations.py breaks an invariant in a scripted run; the code that ships keeps it), and what the
simulator found in the new deciders."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable

import pytest

from actors.base import LinkedActor
from messages.log import Level, LogEntry
from sim import cluster
from sim import judge as j
from sim.consul import CheckFlavour
from sim.mutations import BY_NAME
from sim.service import SimService
from sim.transport import Received
from tests.test_sim_cluster import plan, scripted

#: Seeds the CI run sweeps in the world of the real service (python -m sim --seeds N runs the same ones): each costs
#: about 1 s of CPU, and runs twice.
CI_SEEDS = 90

Scenario = Callable[[], cluster.Cluster]


def cluster_sweep(first: int, count: int) -> tuple[list[tuple[int, str, str]], Counter[str], Counter[str]]:
    """The failing seeds of `first`..`first + count - 1` (seed, invariant, text), the coverage counts, and per fault
    kind the seeds that had it on. Each seed runs twice: two runs that do not take the same steps (trace hash) break
    determinism, which every replay relies on."""
    failing = []
    reached: Counter[str] = Counter()
    kinds_on: Counter[str] = Counter()
    for seed in range(first, first + count):
        result, again = cluster.run_seed(seed), cluster.run_seed(seed)
        reached.update(result.reached)
        kinds_on.update(result.kinds_on)
        if not result.ok:
            failing.append((result.seed, result.invariant, result.text))
        elif again.trace_hash != result.trace_hash:
            failing.append((seed, "deterministic", f"trace hash {result.trace_hash} then {again.trace_hash}"))
    return failing, reached, kinds_on


def test_every_seed_of_the_ci_sweep_keeps_every_invariant() -> None:
    """CI_SEEDS seeds of the world of the real service (sim/cluster.py; one process, each seed run twice), each 45
    simulated seconds (longer with a crash loop, a container Docker's health check replaces, or one instance's own
    Docker failing) with up to six faults; the time-based invariants hold at every check (every 0.1 s, for the whole
    run), the others at every record they are about, the world converges once the faults stop, and both runs of a
    seed take the same steps (trace hash). "Sometimes": every fault kind fired, and every required item of the table
    (the servers' and the deciders' states and transitions, sim/coverage.py) was reached, in at least one seed."""
    failures, reached, kinds_on = cluster_sweep(0, CI_SEEDS)
    table, missing = cluster.coverage_table(reached, CI_SEEDS, kinds_on)

    by_invariant: dict[str, list[int]] = {}
    for seed, invariant, _ in failures:
        by_invariant.setdefault(invariant, []).append(seed)
    assert {} == by_invariant, "\n" + cluster.run_seed(failures[0][0]).report(60)
    assert [] == missing, table


def test_a_replay_does_not_depend_on_the_process() -> None:
    """`python -m sim --seed N` prints the same steps whatever the process's hash seed (no set order leaks in)."""
    outputs = {
        subprocess.run(
            [sys.executable, "-m", "sim", "--seed", "227", "--grep", ":"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            check=False,
        ).stdout
        for hash_seed in ("1", "2")
    }

    assert 1 == len(outputs)
    assert "seed 227: " in outputs.pop()


# ---------------------------------------------------------------------------------------------- scripting a run


def holder(world: cluster.Cluster) -> SimService:
    """The instance holding the lock now."""
    name = world.consul.holder(world.sim.now())
    return next(service for service in world.services if service.name == name)


def actor_of(world: cluster.Cluster, service: SimService, name: str) -> LinkedActor:
    """`service`'s running actor that its supervisor registered as `name`."""
    return next(actor for actor in cluster.supervised(world, service) if actor.register_as == name)


def at(when: float, action: Callable[[], object], text: str) -> tuple[float, cluster.Fault, str]:
    """A scripted fault (its kind, for the coverage table: `scenario`)."""
    return when, (action, text), "scenario"


def restart_vaults(world: cluster.Cluster) -> None:
    for vault in world.vaults.values():
        vault.restart(world.sim.now())


def seal(world: cluster.Cluster, *hosts: str) -> None:
    for host in hosts or tuple(world.vaults):
        world.vaults[host].sealed, world.vaults[host].sealed_since = True, 0.0


def given_credentials(world: cluster.Cluster, credentials: tuple[str, ...]) -> None:
    """The operator's shares for this run, in place of the seed's: the services' environment and the judge follow."""
    world.use_credentials(credentials)
    for service in world.services:
        service.env.update(world.env())
    world.judge = j.Judge(world.bounds(), cluster.INVARIANTS)


def on_share(world: cluster.Cluster, act: Callable[[Received], object]) -> None:
    """`act` once, at the first unseal share a Vault receives (on the sender's task, as the Vault receives it)."""
    heard = world.received
    done: list[bool] = []

    def received(received: Received) -> None:
        heard(received)
        if received.note == "share" and not done:
            done.append(True)
            act(received)

    world.received = received  # type: ignore[method-assign]


def old_and_new(name: str, scenario: Scenario) -> tuple[cluster.Result, cluster.Result]:
    """The scenario run with the member `name` of the mutation set applied, and without it."""
    with BY_NAME[name].applied():
        old = scenario().run()
    return old, scenario().run()


# ---------------------------------------------------------------------------------------------- issue 17's defects


def check_gone_with_acls() -> cluster.Cluster:
    """One instance; Consul 1.8 with ACLs (500 `Unknown check`); its check deregistered at 4 s; a label at 6 s;
    manager-1 restarts (sealed) at 6.5 s."""
    world = scripted(2, instances=1)
    world.consul.flavour = CheckFlavour.ACL

    def deregister() -> None:
        for check in sorted(world.consul.checks):
            world.consul.check_deregister(world.sim.now(), check, "a peer")

    plan(
        world,
        at(4.0, deregister, "the holder's check deregistered"),
        at(6.0, lambda: world.docker.label(world.sim.now(), 3, "io.neon.compute.cores", "16"), "a label"),
        at(6.5, lambda: world.vaults["manager-1"].restart(world.sim.now()), "manager-1 restarts"),
    )
    return world


def test_defect_1_an_unknown_check_on_an_acl_consul_is_taken_for_an_outage_forever() -> None:
    """Old (old-1): 500 `Unknown check` meant an outage, so the only instance never took the lock again (the free
    lock is not taken within the bound; nothing published or unsealed). New: CheckGone, the check is registered
    again and the lock taken."""
    old, new = old_and_new("old-1", check_gone_with_acls)

    assert j.TAKEN_OVER == old.invariant, old.report()
    assert new.ok, new.report()


def check_gone_on_new_consul() -> cluster.Cluster:
    """Two instances; Consul >= 1.11 (404 for an unknown check); the holder's check deregistered at 5.4 s, every
    Vault restarts right after."""
    world = scripted(1, instances=2)
    world.consul.flavour = CheckFlavour.NEW

    def deregister() -> None:
        check = actor_of(world, holder(world), "leadership").state.check_id  # type: ignore[attr-defined]
        world.consul.check_deregister(world.sim.now(), check, "a peer")

    plan(
        world,
        at(5.4, deregister, "the holder's check deregistered"),
        at(5.45, lambda: restart_vaults(world), "every Vault restarts"),
    )
    return world


def test_defect_1_a_404_for_an_unknown_check_is_no_longer_taken_for_a_pass() -> None:
    """Old (old-1): py-consul's False (404) was ignored: the instance went on leading on a dead session while another
    took the lock. Since issue 27 the lock is read after every pass and only that read extends the lease, which
    catches the dead session too: the old reading of a 404 breaks no invariant either."""
    old, new = old_and_new("old-1", check_gone_on_new_consul)

    assert old.ok, old.report()
    assert new.ok, new.report()


def two_children_crash() -> cluster.Cluster:
    """The only instance's Unsealer and fleet (both under the one-for-one `vault` supervisor) crash in one moment."""
    world = scripted(3, instances=1)

    def crash() -> None:
        for name in ("unsealer", "vault-fleet"):
            actor = actor_of(world, world.services[0], name)
            world.sim.fail_next_message(actor, cluster.InjectedFault(f"injected: a bug in {name}"))
            actor.actor_ref.tell("a message it dies of")

    plan(world, at(3.0, crash, "the unsealer and the fleet crash together"))
    return world


def test_defect_2_a_one_for_one_supervisor_loses_a_restart() -> None:
    """Old (old-2): one generation for all children: the first child's restart was stale and dropped; it stayed dead
    and health stayed green. New: a pending restart per child."""
    old, new = old_and_new("old-2", two_children_crash)

    assert "nothing dead unseen" == old.invariant, old.report()
    assert new.ok, new.report()


def leadership_crash() -> cluster.Cluster:
    """The only instance's Leadership crashes at 4 s; a label changes at 9 s (a definition to write)."""
    world = scripted(4, instances=1)

    def crash() -> None:
        actor = actor_of(world, world.services[0], "leadership")
        world.sim.fail_next_message(actor, cluster.InjectedFault("injected: a bug in leadership"))
        actor.actor_ref.tell("a message it dies of")

    plan(
        world,
        at(4.0, crash, "leadership crashes"),
        at(9.0, lambda: world.docker.label(world.sim.now(), 4, "io.neon.compute.cores", "8"), "a label"),
    )
    return world


def test_defect_3_a_leadership_crash_leaves_the_publisher_on_a_dead_session() -> None:
    """Old (old-3): the crashed Leadership's cleanup released the lock and told no one; the publisher ignored the
    restarted Leadership's BecameLeader (it already led) and every write was fenced, for good. New: it takes the new
    session."""
    old, new = old_and_new("old-3", leadership_crash)

    assert "converges" == old.invariant, old.report()
    assert new.ok, new.report()


def garbage_answers() -> cluster.Cluster:
    """manager-2's Vault (unsealed) answers 503 `null` from 1 s to 27 s; manager-3 restarts (sealed) at 16 s."""
    world = scripted(3)
    world.vaults["manager-2"].sealed, world.vaults["manager-2"].sealed_since = False, None

    def garbage() -> None:
        world.vaults["manager-2"].garbage_until = 27.0

    plan(
        world,
        at(1.0, garbage, "manager-2 answers 503 null"),
        at(16.0, lambda: world.vaults["manager-3"].restart(world.sim.now()), "manager-3 restarts"),
    )
    return world


def test_defect_4_a_vault_answering_garbage_crashes_its_monitor() -> None:
    """Old (old-4): the gateway raised on a 503 with a body `null`; the monitor died of a peer's answer. New: the
    state is `unexpected`, reported at ERROR."""
    old, new = old_and_new("old-4", garbage_answers)

    assert cluster.NO_CRASH == old.invariant, old.report()
    assert new.ok, new.report()


def pause_mid_attempt() -> cluster.Cluster:
    """Two instances; every Vault sealed; the instance whose first share a Vault receives is paused for 4 s right
    then (past the check's TTL: the other takes the lock and unseals)."""
    world = scripted(5, instances=2)
    seal(world)

    def pause(received: Received) -> None:
        service = next(service for service in world.services if service.name == received.sender)
        service.pause(4.0)
        world.add(j.Paused(received.time, service.name, received.time + 4.0))
        world.say(received.time, "FAULT", f"{service.name} paused for 4 s after its first share")

    on_share(world, pause)
    return world


def test_defect_5_shares_checked_against_the_lock_only_when_an_attempt_starts() -> None:
    """Old (old-5): an attempt went on with its next share after the lock was lost (here: paused past the check's TTL
    while another instance took it). New: every share is checked against the lease when it is decided and sent."""
    old, new = old_and_new("old-5", pause_mid_attempt)

    assert j.NEVER_TWO_UNSEALERS == old.invariant, old.report()
    assert new.ok, new.report()


def base_at_a_reused_index() -> cluster.Cluster:
    """One instance; Consul loses its data at 3 s and cluster setup stores a new base at 4.5 s at the very index the
    old one had (the publisher's last decoded one)."""
    world = scripted(3, instances=1)
    index: list[int] = []

    def wipe() -> None:
        stored = actor_of(world, world.services[0], "definition-publisher").state.stored  # type: ignore[attr-defined]
        index.append(stored.index)
        world.consul.restart(world.sim.now(), 1.0, keep_state=False)

    def publish() -> None:
        world.consul.index = index[0] - 1  # its indexes started again: this write lands on that very index
        world.setup_publishes()
        world.settings(cluster.NODE_POLL, cluster.VAULT_POLL)

    plan(
        world,
        at(3.0, wipe, "Consul restarts without its data"),
        at(4.5, publish, "cluster setup publishes a new base"),
    )
    return world


def test_defect_7_the_decoded_base_cached_by_modify_index_alone() -> None:
    """Old (old-7): the new base stored at a reused ModifyIndex was never decoded; the old base was written over it.
    New: the cache is keyed by index and the value's digest."""
    old, new = old_and_new("old-7", base_at_a_reused_index)

    assert "converges" == old.invariant, old.report()
    assert new.ok, new.report()


def bad_share_first() -> cluster.Cluster:
    """One instance; the credentials: a share of another cluster first, then three valid ones (threshold 3);
    manager-1 sealed."""
    world = scripted(3, instances=1)
    given_credentials(world, ("0" * 32, *world.shares[:3]))
    seal(world, "manager-1")
    return world


def test_defect_11_shares_always_tried_in_one_order() -> None:
    """Old (old-11): the first `threshold` shares every time: one bad share among them and every attempt failed
    although a valid combination existed. New: combinations Vault refused are not tried again."""
    old, new = old_and_new("old-11", bad_share_first)

    assert "converges" == old.invariant, old.report()
    assert new.ok, new.report()


# ---------------------------------------------------------------------------------------------- found by the sim


def pause_after_a_holder_check() -> cluster.Cluster:
    """The holder is paused for 3.5 s (past its check's TTL: another instance takes the lock) at 5.6 s; every Vault
    restarts just before it resumes, so its monitors ask its Unsealer at once while its Leadership takes its first
    step."""
    world = scripted(7, instances=2)

    def pause() -> None:
        now, service = world.sim.now(), holder(world)
        service.pause(3.5)
        world.add(j.Paused(now, service.name, now + 3.5))

    plan(
        world,
        at(5.6, pause, "the holder is paused for 3.5 s"),
        at(9.05, lambda: restart_vaults(world), "every Vault restarts"),
    )
    return world


def test_a_paused_holder_does_not_extend_its_lease_on_a_dead_session() -> None:
    """Found by the sim (the old model's sweep seed 227): after a pause longer than the check's TTL, the old holder
    passed its (critical) check again and Lease extended its lease, although Consul had invalidated its session and
    another instance held the lock; its Unsealer then sent shares beside the new holder's. neon_cm/lease.py extends
    a lease only from a read of the lock after the pass (the member `session-death` puts the old way back)."""
    result = pause_after_a_holder_check().run()

    assert result.ok, result.report()


def one_bad_share_among_six() -> cluster.Cluster:
    """Six shares in the credentials, the first one another cluster's (threshold 3); manager-1 sealed."""
    world = scripted(3, instances=1)
    given_credentials(world, ("0" * 32, *world.shares))
    seal(world, "manager-1")
    return world


def test_one_bad_share_among_many_costs_one_poll_not_ten() -> None:
    """Found by the sim (with no fault at all): with one bad share first among six, Unsealing tried the ten
    combinations holding it, one per poll, before a valid one. With one bad share a valid combination is at most
    threshold + 1 tries away; neon_cm/unsealing.py tries next the combination sharing the fewest shares with those
    refused: here one refusal."""
    world = one_bad_share_among_six()
    result = world.run()

    assert result.ok, result.report()
    assert 1 == world.vaults["manager-1"].refused


def cluster_restart_mid_attempt() -> cluster.Cluster:
    """The credentials hold exactly the threshold of valid shares; manager-2 is sealed; the whole Vault cluster
    restarts right after the first share reaches a Vault: the next share meets a follower not initialized (400)."""
    world = scripted(3, instances=1)
    given_credentials(world, world.shares[:3])
    seal(world, "manager-2")

    restart_all = world.fault(*cluster.vault_cluster_restart(world, random.Random()), "vault_cluster_restart")
    on_share(world, lambda received: world.sim.schedule(received.time + 0.0005, restart_all))
    return world


def test_a_share_refused_by_a_vault_not_initialized_is_not_a_bad_share() -> None:
    """Found by the sim (a whole-cluster restart during an attempt): a follower not initialized refuses the next share
    with 400 `Vault is not initialized`; Unsealing took any 400 before the threshold for a share refused on its own
    and left that (valid) share out for good: with the threshold's number of shares the node was never unsealed
    again. neon_cm/unsealing.py leaves a share out only for Vault's words about the key."""
    result = cluster_restart_mid_attempt().run()

    assert result.ok, result.report()


def every_share_rotated() -> cluster.Cluster:
    """The credentials hold three shares of a split the Vaults no longer use (rotated away); manager-1 sealed."""
    world = scripted(3, instances=1)
    given_credentials(world, tuple(f"{number:032x}" for number in (7, 8, 9)))
    seal(world, "manager-1")
    return world


def test_keys_that_unseal_nothing_are_said_once_while_the_attempts_go_on() -> None:
    """Issue 19: every share rotated away: the Unsealer says at ERROR that the keys do not unseal the Vault (the
    invariant `said once` fails a run where it says it again within the reminder period, as it did at every poll
    before), and it goes on trying at every poll: the Vault sees more refused attempts than ERRORs."""
    world = every_share_rotated()
    result = world.run()

    assert result.ok, result.report()
    said = [record for record in world.history.of(j.KeysRefused) if record.vault == "manager-1"]
    assert said
    assert world.vaults["manager-1"].refused > len(said)


# ---------------------------------------------------------------------------------------------- the checker itself


def test_the_history_recorded_judges_the_same_afterwards() -> None:
    """The world records a History as it runs and its Judge judges each record as it comes; the same History judged
    afterwards by sim.judge.judge (the function the real-stack tests use) finds what the live judge found."""
    world = cluster.Cluster(3)
    result = world.run()
    kinds = {type(record).__name__ for record in world.history}

    assert result.ok, result.report()
    assert {"LockAcquired", "LeaseTold", "Written", "ErrorLogged", "Sealed", "ActorStarted"} <= kinds
    assert [] == j.judge(world.history, world.bounds(), end=world.sim.now())
    old = pause_mid_attempt()
    with BY_NAME["old-5"].applied():
        result = old.run()

    assert not result.ok
    assert result.invariant in [finding.invariant for finding in j.judge(old.history, old.bounds())]


def test_a_share_in_a_log_line_is_caught() -> None:
    """no secret: any of the credentials' shares in a log line an instance writes."""
    world = cluster.Cluster(1)
    world.health.cleanup()  # the world is not run: nothing writes a health file
    share = world.credentials[0]
    world.logged("i1", LogEntry(world.sim.wall(), Level.ERROR, "unsealer", "Vault rejected unseal key 1 of 3"))

    with pytest.raises(cluster.Violation, match="no secret"):
        world.logged("i1", LogEntry(world.sim.wall(), Level.ERROR, "unsealer", f"rejected {share}"))
