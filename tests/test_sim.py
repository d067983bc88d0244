"""The deterministic simulator (sim/): the seed sweep CI runs (the world of the real service, sim/cluster.py), exact
replay, and issue 17's defects as scenarios of the old model (sim/world.py, `python -m sim --model`) that fail on the
old behaviour (`World(old=...)`) and pass on the deciders that fixed them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable

import pytest

from messages.leadership import LeaseExtended
from messages.log import Level
from messages.vault import UnsealFinished
from neon_cm.decider import Publish, log
from neon_cm.keys import LEADER_KEY
from sim import cluster
from sim.consul import CheckFlavour
from sim.gateways import Violation
from sim.instance import WIRING, Instance
from sim.judge import Judge, judge
from sim.world import Result, World

#: Seeds the CI run sweeps in the world of the real service (python -m sim --seeds N runs the same ones): each costs
#: about 1 s of CPU, and runs twice.
CI_SEEDS = 90


def holder(world: World) -> Instance:
    """The instance holding the lock now."""
    name = world.consul.holder(world.loop.now)
    return next(instance for instance in world.instances if instance.name == name)


def restart_vaults(world: World) -> None:
    for vault in world.vaults.values():
        vault.restart(world.loop.now)


def run(
    seeds: Iterable[int], scenario: Callable[[World], None], old: frozenset[int] = frozenset(), instances: int = 1
) -> list[Result]:
    return [World(seed, old, scenario=scenario, instances=instances).run() for seed in seeds]


def violated(results: list[Result], invariant: str) -> list[int]:
    """The seeds whose run broke `invariant`."""
    return [result.seed for result in results if not result.ok and result.invariant == invariant]


def shown(results: list[Result]) -> str:
    """The first failing seed's trace, for an assertion message."""
    failed = [result for result in results if not result.ok]
    return failed[0].report(25) if failed else ""


def sweep(first: int, count: int) -> tuple[list[tuple[int, str, str]], Counter[str]]:
    """(seed, invariant, text) of every failing seed of `first`..`first + count - 1`, and in how many seeds each
    coverage item was reached (sim/coverage.py). Each seed runs twice: two runs that do not take the same steps
    (trace hash) break determinism, which every replay relies on."""
    failing = []
    reached: Counter[str] = Counter()
    for seed in range(first, first + count):
        result, again = World(seed).run(), World(seed).run()
        reached.update(result.reached)
        if not result.ok:
            failing.append((result.seed, result.invariant, result.text))
        elif again.trace_hash != result.trace_hash:
            failing.append((seed, "deterministic", f"trace hash {result.trace_hash} then {again.trace_hash}"))
    return failing, reached


def test_the_sim_wires_instances_as_the_service_does() -> None:
    """The sim wires instances with the publication table the service runs with (messages.routes.WIRING)."""
    from neon_cm_main import WIRING as SERVICE_WIRING

    assert SERVICE_WIRING == WIRING


def test_a_seed_replays_exactly() -> None:
    """Everything comes from the seed: two runs of one seed take the same steps and end the same way."""
    first, second = World(227, trace_steps=500).run(), World(227, trace_steps=500).run()

    assert first == second
    worlds = [World(5, trace_steps=10**6), World(5, trace_steps=10**6)]
    for world in worlds:
        world.run()
    assert [(at, who, actor, repr(event)) for at, who, actor, event, _ in worlds[0].trace] == [
        (at, who, actor, repr(event)) for at, who, actor, event, _ in worlds[1].trace
    ]


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


def cluster_sweep(first: int, count: int) -> tuple[list[tuple[int, str, str]], Counter[str], Counter[str]]:
    """`sweep` in the world of the real service (sim/cluster.py): the failing seeds, the coverage counts, and per
    fault kind the seeds that had it on."""
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
    simulated seconds (longer with a crash loop or one instance's own Docker failing) with up to six faults; the
    time-based invariants hold at every check (every 0.5 s, for the whole run), the others at every record they are
    about, the world converges once the faults stop, and both runs of a seed take the same steps (trace hash).
    "Sometimes": every fault kind fired, and every required item of the table (the servers' and the deciders' states
    and transitions, sim/coverage.py) was reached, in at least one seed."""
    failures, reached, kinds_on = cluster_sweep(0, CI_SEEDS)
    table, missing = cluster.coverage_table(reached, CI_SEEDS, kinds_on)

    by_invariant: dict[str, list[int]] = {}
    for seed, invariant, _ in failures:
        by_invariant.setdefault(invariant, []).append(seed)
    assert {} == by_invariant, "\n" + cluster.run_seed(failures[0][0]).report(60)
    assert [] == missing, table


def test_the_old_model_still_sweeps() -> None:
    """The old model (sim/world.py, `python -m sim --model`) keeps running until it is deleted: a short sweep of it,
    each seed twice."""
    failures, _ = sweep(0, 50)

    assert [] == failures


# ---------------------------------------------------------------------------------------------- issue 17's defects


def check_gone_with_acls(world: World) -> None:
    """One instance; Consul 1.8 with ACLs; its check deregistered at 4 s; work to do afterwards."""
    world.consul.flavour = CheckFlavour.ACL

    def deregister() -> None:
        world.consul.check_deregister(world.loop.now, holder(world).actors["leadership"].state.check_id, "a peer")

    world.inject(4.0, deregister, "the holder's check deregistered")
    world.inject(6.0, lambda: world.docker.label(world.loop.now, 3, "io.neon.compute.cores", "16"), "a label")
    world.inject(6.5, lambda: world.vaults["manager-1"].restart(world.loop.now), "manager-1 restarts")


def test_defect_1_an_unknown_check_on_an_acl_consul_is_taken_for_an_outage_forever() -> None:
    """Old: 500 `Unknown check` meant an outage, so the only instance never took the lock again: nothing published
    or unsealed. New: CheckGone, the check is registered again and the lock taken."""
    old = run(range(5), check_gone_with_acls, frozenset({1}))
    new = run(range(5), check_gone_with_acls)

    assert [0, 1, 2, 3, 4] == violated(old, "converges")
    assert [] == violated(new, "converges"), shown(new)


def check_gone_on_new_consul(world: World) -> None:
    """Two instances; Consul >= 1.11 (404 for an unknown check); the holder's check deregistered at 4 s."""
    world.consul.flavour = CheckFlavour.NEW

    def deregister() -> None:
        world.consul.check_deregister(world.loop.now, holder(world).actors["leadership"].state.check_id, "a peer")

    # Right after the holder's check of the lock (every 5 s from its acquisition before issue 27).
    world.inject(5.4, deregister, "the holder's check deregistered")
    world.inject(5.45, lambda: restart_vaults(world), "every Vault restarts")


def test_defect_1_a_404_for_an_unknown_check_is_taken_for_a_pass() -> None:
    """Old: py-consul's False (404) was ignored: the instance went on leading on a dead session while another took
    the lock, and unsealed beside it (while the holder was read every 5 s). New: CheckGone. Since issue 27 the
    lock is read after every pass and only that read extends the lease, which catches the dead session too: the
    old reading of a 404 no longer breaks an invariant either."""
    old = run(range(8), check_gone_on_new_consul, frozenset({1}), instances=2)
    new = run(range(8), check_gone_on_new_consul, instances=2)

    assert [] == [result.seed for result in old if not result.ok], shown(old)
    assert [] == [result.seed for result in new if not result.ok], shown(new)


def two_children_crash(world: World) -> None:
    """The Unsealer and the fleet (both under the one-for-one `vault` supervisor) crash in one moment."""

    def crash() -> None:
        instance = world.instances[0]
        instance.actors["unsealer"].crash("injected")
        instance.actors["vault-fleet"].crash("injected")

    world.inject(3.0, crash, "the unsealer and the fleet crash together")


def test_defect_2_a_one_for_one_supervisor_loses_a_restart() -> None:
    """Old: one generation for all children: the first child's restart was stale and dropped; it stayed dead and
    health stayed green. New: a pending restart per child."""
    old = run(range(3), two_children_crash, frozenset({2}))
    new = run(range(3), two_children_crash)

    assert [0, 1, 2] == violated(old, "nothing dead unseen")
    assert [] == [result.seed for result in new if not result.ok], shown(new)


def leadership_crash(world: World) -> None:
    """The only instance's Leadership crashes at 4 s; a label changes at 9 s (a definition to write)."""
    world.inject(4.0, lambda: world.instances[0].actors["leadership"].crash("injected"), "leadership crashes")
    world.inject(9.0, lambda: world.docker.label(world.loop.now, 4, "io.neon.compute.cores", "8"), "a label")


def test_defect_3_a_leadership_crash_leaves_the_publisher_on_a_dead_session() -> None:
    """Old: the crashed Leadership's cleanup released the lock and told no one; the publisher ignored the restarted
    Leadership's BecameLeader (it already led) and every write was fenced, for good. New: it takes the new session."""
    old = run(range(4), leadership_crash, frozenset({3}))
    new = run(range(4), leadership_crash)

    assert [0, 1, 2, 3] == violated(old, "converges")
    assert [] == [result.seed for result in new if not result.ok], shown(new)


def garbage_answers(world: World) -> None:
    """manager-2's Vault (unsealed) answers 503 `null` from 1 s to 27 s; manager-3 restarts (sealed) at 16 s."""
    world.vaults["manager-2"].sealed, world.vaults["manager-2"].sealed_since = False, None

    def garbage() -> None:
        world.vaults["manager-2"].garbage_until = 27.0

    world.inject(1.0, garbage, "manager-2 answers 503 null")
    world.inject(16.0, lambda: world.vaults["manager-3"].restart(world.loop.now), "manager-3 restarts")


def test_defect_4_a_vault_answering_garbage_crashes_its_monitor() -> None:
    """Old: hvac raised on a 503 with a body `null`; the monitor died of a peer's answer (its crash loop took the
    fleet and the Vault side down past the intensity, every Vault unwatched). New: the state is `unexpected`,
    reported at ERROR."""
    old = run(range(3), garbage_answers, frozenset({4}))
    new = run(range(3), garbage_answers)

    assert [0, 1, 2] == violated(old, "no crash from a peer's answer")
    assert [] == [result.seed for result in new if not result.ok], shown(new)


def pause_mid_attempt(world: World) -> None:
    """Every Vault sealed; the instance sending the first share is paused for 4 s right after it went out."""
    for vault in world.vaults.values():
        vault.sealed, vault.sealed_since = True, 0.0
    paused: list[str] = []

    def hook(instance: Instance, host: str) -> None:
        if not paused:
            paused.append(instance.name)
            instance.pause(4.0)
            world.loop.at(instance.paused_until, instance.resumed)

    world.share_hooks.append(hook)


def test_defect_5_shares_checked_against_the_lock_only_when_an_attempt_starts() -> None:
    """Old: an attempt went on with its next share after the lock was lost (here: paused past the check's TTL while
    another instance took it). New: every share is checked against the lease when it is decided and sent; the same
    scenario on the new deciders is test_a_paused_holder_does_not_extend_its_lease_on_a_dead_session."""
    old = run(range(6), pause_mid_attempt, frozenset({5}), instances=2)

    assert violated(old, "never two unsealers")


def base_at_a_reused_index(world: World) -> None:
    """Consul loses its data at 3 s and cluster setup stores a new base at the very index the old one had."""

    index: list[int] = []

    def wipe() -> None:
        # The index of the base the publisher decoded last (as its cache holds it).
        index.append(world.instances[0].actors["definition-publisher"].state.stored.index)
        world.consul.restart(world.loop.now, 1.0, keep_state=False)

    def publish() -> None:
        world.consul.index = index[0] - 1  # its indexes started again: this write lands on that very index
        world.setup_publishes()

    world.inject(3.0, wipe, "Consul restarts without its data")
    world.inject(4.5, publish, "cluster setup publishes a new base")


def test_defect_7_the_decoded_base_cached_by_modify_index_alone() -> None:
    """Old: the new base stored at a reused ModifyIndex was never decoded; the old base was written over it. New:
    the cache is keyed by index and the value's digest."""
    old = run(range(3), base_at_a_reused_index, frozenset({7}))
    new = run(range(3), base_at_a_reused_index)

    assert [0, 1, 2] == violated(old, "converges")
    assert [] == [result.seed for result in new if not result.ok], shown(new)


def bad_share_first(world: World) -> None:
    """The credentials: a share of another cluster first, then three valid ones (threshold 3); manager-1 sealed."""
    good = list(world.vaults["manager-1"].shares[:3])
    world.credentials = ("0" * 32, *good)
    world.secrets = world.credentials
    world.unsealable = world.bad_share = True
    world.vaults["manager-1"].sealed, world.vaults["manager-1"].sealed_since = True, 0.0


def test_defect_11_shares_always_tried_in_one_order() -> None:
    """Old: the first `threshold` shares every time: one bad share among them and every attempt failed although a
    valid combination existed. New: combinations Vault refused are not tried again."""
    old = run(range(3), bad_share_first, frozenset({11}))
    new = run(range(3), bad_share_first)

    assert [0, 1, 2] == violated(old, "converges")
    assert [] == [result.seed for result in new if not result.ok], shown(new)


# ---------------------------------------------------------------------------------------------- found by the sim


def pause_after_a_holder_check(world: World) -> None:
    """The holder is paused for 3.5 s (past its check's TTL: another instance takes the lock) soon after it read the
    lock's holder (it does every 5 s, from its acquisition); every Vault restarts just before it resumes, so its
    monitors ask its Unsealer at once while its Leadership takes its first step."""

    def pause() -> None:
        instance = holder(world)
        instance.pause(3.5)
        world.loop.at(instance.paused_until, instance.resumed)
        world.loop.at(instance.paused_until - 0.05, lambda: restart_vaults(world))

    world.inject(5.6, pause, "the holder is paused for 3.5 s")


def test_a_paused_holder_does_not_extend_its_lease_on_a_dead_session() -> None:
    """Found by the sim (sweep seed 227): after a pause longer than the check's TTL, the old holder passes its
    (critical) check again and Lease extends its lease, although Consul invalidated its session and another
    instance holds the lock (a lease told is not a lease held); its Unsealer then sends shares beside the new
    holder's (never two unsealers). neon_cm/lease.py must not extend a lease from a pass that came more than the TTL
    after the last good one (renew the session first)."""
    results = run(range(10), pause_after_a_holder_check, instances=2)

    assert [] == violated(results, "a lease told is a lease held"), shown(results)
    assert [] == violated(results, "never two unsealers"), shown(results)


def one_bad_share_among_six(world: World) -> None:
    """Six shares in the credentials, the first one another cluster's (threshold 3); manager-1 sealed."""
    world.credentials = ("0" * 32, *world.vaults["manager-1"].shares, f"{1:032x}")[:6]
    world.secrets = world.credentials
    world.unsealable = world.bad_share = True
    world.vaults["manager-1"].sealed, world.vaults["manager-1"].sealed_since = True, 0.0


def test_one_bad_share_among_many_costs_one_poll_not_ten() -> None:
    """Found by the sim (with no fault at all): with one bad share first among six, Unsealing tries the ten
    combinations holding it, one per poll, before a valid one: ten polls sealed (five minutes at the default 30 s).
    With one bad share a valid combination is at most threshold + 1 tries away (two when the credentials hold
    twice the threshold: the first refused, then one sharing no share with it). neon_cm/unsealing.py should try
    next the combination sharing the fewest shares with those refused."""
    worlds = [World(seed, scenario=one_bad_share_among_six, instances=1) for seed in range(3)]
    results = [world.run() for world in worlds]

    assert [] == violated(results, "converges"), shown(results)
    assert [1, 1, 1] == [world.vaults["manager-1"].refused for world in worlds]


def cluster_restart_mid_attempt(world: World) -> None:
    """The credentials hold exactly the threshold of valid shares; manager-2 is sealed; the whole Vault cluster
    restarts right after the first share reaches it: its next share meets a follower not initialized (400)."""
    world.credentials = world.secrets = world.vaults["manager-1"].shares[:3]
    world.unsealable, world.bad_share = True, False
    world.vaults["manager-2"].sealed, world.vaults["manager-2"].sealed_since = True, 0.0
    done: list[bool] = []

    def hook(instance: Instance, host: str) -> None:
        if host == "manager-2" and not done:
            done.append(True)
            first, *others = world.vaults.values()
            for vault in world.vaults.values():
                vault.restart(world.loop.now)
            for vault in others:
                vault.joined_through = first

    world.share_hooks.append(hook)


def test_a_share_refused_by_a_vault_not_initialized_is_not_a_bad_share() -> None:
    """Found by the sim (a whole-cluster restart during an attempt): a follower not initialized refuses the next
    share with 400 `Vault is not initialized`; Unsealing takes any 400 before the threshold for a share refused on
    its own and leaves that (valid) share out for good: with the threshold's number of shares the node is never
    unsealed again by this Unsealer. neon_cm/unsealing.py should leave a share out only for Vault's words about
    the key (malformed, wrong length), not for a node not initialized (nor for any other 400)."""
    results = run(range(3), cluster_restart_mid_attempt)

    assert [] == violated(results, "converges"), shown(results)


def became_leader_lost(world: World) -> None:
    """The publisher's BecameLeader is lost on the way (messages to it dropped for the first second)."""
    world.drops.append(("i1", "definition-publisher", 1.0))
    world.inject(6.0, lambda: world.docker.label(world.loop.now, 2, "io.neon.compute.cores", "2"), "a label")


def new_session_became_leader_lost(world: World) -> None:
    """The only instance's check is deregistered at 4 s (it steps down, takes a new session and the lock again);
    its Unsealer does not hear the new BecameLeader (messages to it lost from 3.9 s to 5.5 s); manager-1
    restarts at 6 s (sealed)."""

    def deregister() -> None:
        world.consul.check_deregister(world.loop.now, holder(world).actors["leadership"].state.check_id, "a peer")

    world.inject(3.9, lambda: world.drops.append(("i1", "unsealer", 5.5)), "messages to the unsealer lost")
    world.inject(4.0, deregister, "its check deregistered")
    world.inject(6.0, lambda: world.vaults["manager-1"].restart(world.loop.now), "manager-1 restarts")


def test_a_lost_became_leader_does_not_leave_the_unsealer_idle() -> None:
    """Found by the long run (seed 37924 at commit 324c8ef): the Unsealer takes a LeaseExtended for another
    session than its BecameLeader's for nothing (neon_cm/unsealing.py, since the vault helper's commit 16d7207), so
    a lost BecameLeader of a new session leaves it refusing to unseal for the whole leadership. As for
    Publishing: a LeaseExtended of another session with a deadline to come could be taken as a BecameLeader."""
    results = run(range(3), new_session_became_leader_lost)

    assert [] == violated(results, "converges"), shown(results)


def test_a_lost_became_leader_does_not_leave_the_publisher_idle() -> None:
    """Found by the sim (sweep seeds 105, 222): the publisher ignores LeaseExtended for a session it does not know,
    so a lost BecameLeader leaves it idle for the whole leadership (the Unsealer takes the lease from either).
    neon_cm/publishing.py should take a LeaseExtended of an unknown session as a BecameLeader."""
    results = run(range(3), became_leader_lost)

    assert [] == violated(results, "converges"), shown(results)


@pytest.mark.parametrize("old", [frozenset({1, 2, 3, 4, 5, 7, 11})])
def test_the_old_behaviours_all_together_still_run(old: frozenset[int]) -> None:
    """Every old behaviour at once runs without a decider raising (the sim's own wiring of them holds)."""
    results = [World(seed, old).run() for seed in range(20)]

    assert [] == violated(results, "no decider raises"), shown(results)


# ---------------------------------------------------------------------------------------------- the checker itself


def quiet_world() -> World:
    """A world with two instances, none started (the recording hooks are called by hand, judged as they come)."""
    world = World(1, scenario=lambda world: None, instances=2)
    world.judge = Judge(world.bounds())
    return world


def test_the_history_recorded_judges_the_same_afterwards() -> None:
    """The world records a History as it runs and its Judge judges each record as it comes; the same History judged
    afterwards by sim.judge.judge (the function the real-stack tests use) finds what the live judge found."""
    for seed in (3, 227):
        world = World(seed)
        result = world.run()
        kinds = {type(record).__name__ for record in world.history}

        assert result.ok, result.report()
        assert {"LockAcquired", "LeaseTold", "Written", "ErrorLogged", "Sealed", "ActorStarted"} <= kinds
        assert [] == judge(world.history, world.bounds(), end=world.end)
    old = World(0, frozenset({5}), scenario=pause_mid_attempt, instances=2)
    result = old.run()

    assert not result.ok
    assert result.invariant in [finding.invariant for finding in judge(old.history, old.bounds())]


def test_a_lease_told_on_a_session_not_holding_the_lock_is_caught() -> None:
    """a lease told is a lease held: a deadline told for a session that does not hold the lock (a deadline already
    past claims nothing)."""
    world = quiet_world()
    world.loop.now = 3.0
    world.lease_told(world.instances[0], LeaseExtended("s-dead", 2.5))

    with pytest.raises(Violation, match="a lease told is a lease held"):
        world.lease_told(world.instances[0], LeaseExtended("s-dead", 5.0))


def test_a_write_by_an_instance_not_holding_the_lock_is_caught() -> None:
    """never a stale writer: Consul accepting a definition write from anyone but the lock's holder of that moment."""
    world = quiet_world()
    world.consul.check_register(0.0, "c1", "n", 3.0)
    session = world.consul.session_create(0.0, ("c1",), "i1").body["ID"]
    world.consul.kv_put(0.0, LEADER_KEY, b"i1", "i1", acquire=session)
    world.definition_written(1.0, "i1")

    with pytest.raises(Violation, match="never a stale writer"):
        world.definition_written(1.0, "i2")
    assert world.judge is not None
    world.judge.broken.clear()  # the judge reports an invariant once: forget it, to see the next one
    with pytest.raises(Violation, match="never a stale writer"):
        world.definition_written(3.5, "i1")  # its check expired at 3 s: the lock is released


def test_a_share_in_a_log_line_or_an_effect_is_caught() -> None:
    """no secret: any of the credentials' shares in a log line or in an effect's repr."""
    world = quiet_world()
    share = world.credentials[0]
    world.check_effect(world.instances[0], "unsealer", log(Level.ERROR, "Vault rejected unseal key 1 of 3"))

    with pytest.raises(Violation, match="no secret"):
        world.check_effect(world.instances[0], "unsealer", log(Level.ERROR, f"rejected {share}"))
    with pytest.raises(Violation, match="no secret"):
        world.check_effect(world.instances[0], "unsealer", Publish(UnsealFinished("manager-1", False, share)))


def every_share_rotated(world: World) -> None:
    """The credentials hold three shares of a split the Vaults no longer use (rotated away); manager-1 sealed."""
    world.credentials = world.secrets = tuple(f"{number:032x}" for number in (7, 8, 9))
    world.unsealable, world.bad_share = False, True
    world.vaults["manager-1"].sealed, world.vaults["manager-1"].sealed_since = True, 0.0


def test_keys_that_unseal_nothing_are_said_once_while_the_attempts_go_on() -> None:
    """Issue 19: every share rotated away: the Unsealer says at ERROR that the keys do not unseal the Vault (the
    invariant `said once` fails a seed where it says it again within the reminder period, as it did at every poll
    before), and it goes on trying at every poll: the Vault sees more refused attempts than ERRORs."""
    worlds = [World(seed, scenario=every_share_rotated, instances=1) for seed in range(3)]
    results = [world.run() for world in worlds]

    assert [] == [result.seed for result in results if not result.ok], shown(results)
    said = [[host for _, _, host in world.keys_refused] for world in worlds]
    assert [["manager-1"]] * 3 == [sorted(set(hosts) & {"manager-1"}) for hosts in said]
    assert all(world.vaults["manager-1"].refused > said[index].count("manager-1") for index, world in enumerate(worlds))
