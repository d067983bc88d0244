"""The world that runs the code that ships (sim/cluster.py): the real service, its real gateways on the simulated
servers through the simulated transports, judged by sim/judge.py. The CI sweep of this world is tests/test_sim.py's;
here: a few seeds twice, what the history is made of, the actor faults, Docker's health check and liveness mode
on planned faults; `scripted` and `plan` script a run (tests/test_sim.py's regression scenarios and
tests/test_handover.py's own-Docker failures use them)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from sim import cluster
from sim import judge as j
from sim.mutations import BY_NAME

#: Seeds of the CI run: each must keep every invariant, and give the same trace twice.
CI_SEEDS = range(1, 5)


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_a_seed_keeps_every_invariant_and_replays_exactly(seed: int) -> None:
    first = cluster.run_seed(seed)
    again = cluster.run_seed(seed)

    assert first.ok, first.report()
    assert first.trace_hash == again.trace_hash
    assert first.reached == again.reached


def test_the_history_comes_from_what_the_servers_received_and_the_services_logged() -> None:
    """Shares as each Vault received them (with the sending instance), writes Consul accepted (with the holder), the
    lock's acquisitions, leases as Leadership told them, ERROR lines per sealed Vault; and no share in any line."""
    world = cluster.Cluster(5, trace_lines=10**7)
    result = world.run()
    history = world.history

    assert result.ok, result.report()
    names = {service.name for service in world.services}
    assert history.of(j.ShareReceived) and {record.sender for record in history.of(j.ShareReceived)} <= names
    written = history.of(j.Written)
    assert written and all(record.writer == record.holder for record in written)
    assert history.of(j.LockAcquired) and history.of(j.LeaseTold) and history.of(j.ErrorLogged)
    assert any(" ERROR vault-monitor:" in line for line in result.trace)
    assert any("-> vault:" in line and " share" in line for line in result.trace)
    assert not any(secret in line for line in result.trace for secret in world.credentials)


def test_the_transport_seam_is_put_back_after_a_run() -> None:
    from gateways import transport

    cluster.run_seed(2)

    assert transport.adapter_for("consul", "http://localhost:8500") is None


def scripted(seed: int, instances: int | None = None) -> cluster.Cluster:
    """A world of `seed` (its servers, credentials and instances; the first `instances` of them if given) with none of
    the seed's faults, rolling update, own-Docker failure or long crash loop: a test plans its own."""
    world = cluster.Cluster(seed, trace_lines=10**7, scenario=lambda world: None)
    if instances is not None:
        world.services = world.services[:instances]
    return world


def plan(world: cluster.Cluster, *faults: tuple[float, cluster.Fault, str]) -> None:
    """The world's faults: these (when, (action, text), kind)."""

    def schedule(world: cluster.Cluster) -> None:
        for when, (action, text), kind in faults:
            world.faults.append(f"{when:7.3f} {text}")
            world.sim.schedule(when, world.fault(action, text, kind))

    world.scenario = schedule


class Picks:
    """A stand-in for the faults' generator: `random()` and `uniform()` give what they are told."""

    def __init__(self, pick: float, seconds: float, choice: object = None) -> None:
        self.pick, self.seconds, self.chosen = pick, seconds, choice

    def random(self) -> float:
        return self.pick

    def uniform(self, low: float, high: float) -> float:
        return self.seconds

    def choice(self, items: list[object]) -> object:
        return self.chosen if self.chosen in items else items[0]


def test_a_vault_unsealed_and_sealed_again_between_two_looks_is_recorded_unsealed_then_sealed() -> None:
    """Long-run seed 1873 (judged by its URL's host, helper w2843): a Vault unsealed at 8.774 s restarted 14 ms later,
    within one 0.1 s look; its monitor saw it unsealed (and forgot its report), the history did not, so the seal was
    timed from 0.1 s and no ERROR could come in time. The world records the unseal and the new seal when it came."""
    world = scripted(3)
    host, vault = next(iter(world.vaults.items()))
    try:
        world.look_at_servers()
        vault.sealed, vault.sealed_since = False, None  # unsealed
        vault.restart(0.05)  # and sealed again before the next look
        world.look_at_servers()
        world.look_at_servers()
    finally:
        world.health.cleanup()  # as `run` does

    seals = [record for record in world.pending if isinstance(record, (j.Sealed, j.Unsealed)) and record.vault == host]
    assert [j.Sealed(0.0, host), j.Unsealed(0.05, host), j.Sealed(0.05, host)] == seals


def test_an_actor_crashing_in_its_handler_is_restarted_by_its_supervisor() -> None:
    """The crash fault raises in a real actor's handler (its next message): the supervisor logs the crash (the
    InjectedFault named) and restarts it after the production backoff (1 s); the history has its death and restart."""
    world = scripted(3)
    fault = cluster.crash(world, Picks(0.5, 0.0))  # type: ignore[arg-type]
    plan(world, (4.0, fault, "crash"))
    result = world.run()

    assert result.ok, result.report()
    died = world.history.of(j.ActorDied)
    assert died, "no actor died"
    first = (died[0].t, died[0].instance, died[0].actor)
    restarted = [r for r in world.history.of(j.ActorRestarted) if (r.instance, r.actor) == first[1:3]]
    assert restarted and 0.9 <= restarted[0].t - first[0] <= 1.5
    assert any("InjectedFault" in line and "restarting" in line and " in 1 s" in line for line in result.trace)


def test_a_crash_loop_runs_out_the_production_intensity_and_escalates() -> None:
    """An Unsealer dying as it starts for 36 s: its supervisor (`vault`, one-for-one) restarts it after 1, 2, 4, 8 and
    16 s, and at its sixth crash within 60 s gives up and escalates (production: 5 restarts in 60 s); the top
    supervisor restarts `vault`, whose new Unsealer runs once the loop is over; nothing dead unseen; it converges."""
    world = scripted(4)
    service = world.services[0]
    fault = cluster.looping(world, service, "unsealer", 36.0, cut=False)
    plan(world, (2.0, fault, "crash_loop"))
    result = world.run()

    assert result.ok, result.report()
    delays = [r.delay for r in world.history.of(j.RestartScheduled) if r.actor == "unsealer"]
    assert [1.0, 2.0, 4.0, 8.0, 16.0] == delays[:5]
    assert any("giving up" in line and "stopping vault so its supervisor decides" in line for line in result.trace)
    assert any(r.actor == "vault" for r in world.history.of(j.RestartScheduled))


def test_docker_replaces_a_container_whose_health_stays_red() -> None:
    """A top child (Leadership) dies as it starts for 36 s: the top supervisor gives up and leaves it stopped, and
    `neon-cluster-manager health` (cli/healthcheck.py on the health file the instance writes) says unhealthy. Docker's
    health check (every 30 s from the container's start; the start period's failures do not count; 3 in a row) finds
    it so at 60, 90 and 120 s: the container is killed and started again 5 s later (Swarm's new task), and the world
    converges with it."""
    world = scripted(4)
    service = world.services[0]
    plan(world, (2.0, cluster.looping(world, service, "leadership", 36.0, cut=False), "long_crash_loop"))
    result = world.run()

    assert result.ok, result.report()
    assert any("leaving leadership stopped" in line for line in result.trace)
    restarted = world.history.of(j.ContainerRestarted)
    assert [service.name] == [record.instance for record in restarted]
    replaced = world.starts[service.name] + cluster.HEALTH_RETRIES * cluster.HEALTH_INTERVAL + cluster.HEALTH_INTERVAL
    assert replaced + cluster.TASK_RESTART_DELAY == pytest.approx(restarted[0].t, abs=cluster.STEP + 1e-6)
    assert world.sim.now() >= restarted[0].t + cluster.AFTER_LOOP


def test_the_simulated_health_check_is_the_images() -> None:
    """The health check the world runs is the Dockerfile's (and the stack file's), with the stack's restart delay."""
    root = Path(__file__).resolve().parents[1]
    healthcheck = next(
        line for line in (root / "Dockerfile").read_text().splitlines() if line.startswith("HEALTHCHECK")
    )
    stack = (root / "deploy" / "neon-cluster-manager.yml").read_text()

    assert (
        f"--interval={cluster.HEALTH_INTERVAL:g}s --timeout=10s --start-period={cluster.HEALTH_START_PERIOD:g}s "
        f'--retries={cluster.HEALTH_RETRIES} CMD ["neon-cluster-manager", "health"]'
    ) in healthcheck
    assert f"interval: {cluster.HEALTH_INTERVAL:g}s" in stack and f"retries: {cluster.HEALTH_RETRIES}" in stack
    assert f"delay: {cluster.TASK_RESTART_DELAY:g}s" in stack


def test_liveness_mode_converges_within_the_bound_and_stays() -> None:
    """`--liveness`: the faults stop at 12 s; the service converges within liveness_bound and stays converged for
    two Vault polls and the TTL (the run then ends), and the result says when."""
    results = [cluster.run_seed(seed, liveness=True) for seed in (0, 6)]

    assert all(result.ok for result in results), [result.report() for result in results if not result.ok]
    assert all(result.converged_after is not None for result in results)


#: Found without any mutant (docs/design-simulation.md, "Found again" on 2fb0a4d): the active instance cannot report a
#: sealed Vault (its vault-fleet crash-loops: 191; its Docker never listed, so it monitors nothing: 194, 209) while its
#: standbys, which see the Vault sealed, said it only at INFO (`standing by: <active> reports it`): no ERROR said it.
UNREPORTED_BY_THE_ACTIVE = (191, 194, 209)


@pytest.mark.parametrize("seed", UNREPORTED_BY_THE_ACTIVE)
def test_a_sealed_vault_the_active_instance_does_not_report_is_said_at_error_by_a_standby(seed: int) -> None:
    """A standby that saw it sealed (or not initialized) for longer than escalation_seconds says it at ERROR. Which
    of these seeds still needs a standby's ERROR moves with the service's timing (the standbys' reads of the holder's
    session since seed 846: in 191 and 194 the instance that says it at ERROR holds the lock by then); 209 does (and
    263, 539 of the longer sweeps)."""
    world = cluster.Cluster(seed, trace_lines=10**7)
    result = world.run()

    assert result.ok, result.report()
    escalations = [line for line in result.trace if " ERROR vault-monitor:" in line and "(standing by, but " in line]
    assert escalations or seed != 209


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_a_vault_the_active_instance_unseals_in_its_normal_time_gets_no_error_from_a_standby(stop: str) -> None:
    """What an operator of a healthy cluster sees: a Vault restarts as the active instance is SIGKILLed (a standby
    takes the lock when the check's TTL runs out) or stopped by a rolling update (SIGTERM: it releases the lock);
    the new active instance unseals it within its normal time, and no standby says it at ERROR."""
    world = scripted(7)
    assert not world.bad_share

    def stop_the_active() -> None:
        holder = world.consul.holder(world.sim.now())
        service = next(service for service in world.services if service.name == holder)
        if stop == "SIGKILL":
            world.kill(service)
        else:
            world.lives.stopping.add(service.name)
            service.terminate()
        world.restart_later(service, 2.0)

    restart = cluster.vault_restart(world, Picks(0.0, 0.0, "manager-1"))  # type: ignore[arg-type]
    plan(world, (4.0, restart, "vault_restart"), (4.0, (stop_the_active, f"{stop} of the active"), "kill"))
    result = world.run()

    assert result.ok, result.report()
    sealed = [record for record in world.history.of(j.Sealed) if record.vault == "manager-1" and record.t >= 4.0]
    assert sealed, "the Vault did not restart"
    assert [] == [line for line in result.trace if "(standing by, but " in line]


@pytest.mark.parametrize("old", [False, True])
def test_a_standby_told_sigterm_takes_no_lock_while_its_stop_is_held_up(old: bool) -> None:
    """The long run's seed 1960 (helper wstop): a stopping instance's Leadership, stopped fourth of the top supervisor's
    children (up to 3 s after the SIGTERM), kept stepping: it offered to take over and tried the lock, its publisher and
    Unsealer stopping. Here a standby and the active instance are told SIGTERM at 2 s (`--update-parallelism 2`), the
    standby's stop held up 2 s by a thread without CPU: the active releases the lock within milliseconds, and the
    standby takes it no more (*a stopping instance takes no lock*). With `stop-unheard` (Leadership does not learn the
    stop began) it tries the lock at its next step, takes it and says it is active."""
    world = scripted(3, instances=2)
    world.scenario = lambda world: world.standby_stops(Picks(0.0, 2.0))  # type: ignore[arg-type]

    with BY_NAME["stop-unheard"].applied() if old else contextlib.nullcontext():
        result = world.run()

    assert "a standby told SIGTERM, its stop held up" in result.reached
    if old:
        assert (False, cluster.STOPPING_TAKES_NOTHING) == (result.ok, result.invariant), result.report()
        # i2, the standby, took the lock the active i1 released and said it is active, its stop under way
        assert any("i2 INFO  leadership: this instance (i2:" in line and "is active" in line for line in result.trace)
    else:
        assert result.ok, result.report()


def test_the_settings_a_snapshot_restore_brings_back_are_followed_at_once() -> None:
    """An operator changes the polls (2 s, 4 s), then restores the backup saved before (3 s, 3 s). Consul answers
    the settings watches' held reads at once with what the old store held and the index they waited on, and the
    restored store's indexes are lower (measured on 1.8.7): a watch that blocked on that index again saw the restored
    settings only when its next wait ran out, 30.7 s after the restore. An unchanged index answered before the wait
    is read afresh (neon_cm/watching.py): each instance follows them within its backoff's first pause (0.5 s)."""
    world = scripted(7)
    change = (lambda: world.settings(2.0, 4.0)), "the settings change: polls every 2 s and 4 s"
    restore = cluster.restore_backup(world), "the Consul backup saved before the instances started is restored"
    plan(world, (3.0, change, "settings_change"), (8.0, restore, "snapshot_restore"))
    result = world.run()

    assert result.ok, result.report()

    def said(name: str, polls: str) -> list[float]:
        line = f" {name} INFO  settings: settings: node_poll_seconds={polls} "
        return [float(text.split()[0]) for text in result.trace if line in text]

    changed = [service.name for service in world.services if said(service.name, "2 vault_poll_seconds=4")]
    assert changed, "no instance followed the change"
    for name in changed:
        followed = [when for when in said(name, "3 vault_poll_seconds=3") if when >= 8.0]
        assert followed and followed[0] <= 8.0 + 1.0, (name, followed)


#: Seeds of the long run of 2026-12-07 (seeds 0-2399 and 2600-2799: 11 of 2,600 failed) that keep every
#: invariant since their cause was fixed, each with what was wrong (1670 and 2250, "said once": the Unsealer forgot on
#: MonitoringStopped that the keys were refused, fixed the same day).
LONG_RUN_FIXED = {
    # converges (helper w323): the simulated network's
    323: "a slow Consul's answer was drawn against the blocking query's whole read timeout (10 s + wait + wait/16 = "
    "41.9 s), so i1's settings watch, answered at once after Consul lost its data, got that answer 32 s later and "
    "monitored manager-2 at the template cluster setup had replaced meanwhile",
    # always reported (the long run on e47c176): the judge's, from the same session's f006fb9 (a restarted container's
    # old ERROR forgotten, without the new reporter's clock: 386, and 511, 569, 604, 1020, 1252 alike; and 428)
    386: "the active i1 said it, then a rolling update replaced its container and i2 took the lock: the judge forgot "
    "i1's ERROR and counted i2's bound from the seal, not from its lease run",
    428: "the holder's new process ran no monitor (its settings crash-looping); its standbys, former reporters, "
    "said it past their threshold counted from being told they stand by, not from the seal",
    # always reported (a sweep of 2026-12-07, seeds 1000-1249): the recorder's
    1028: "the recorder read a process's log by the count of entries alone: i2's new process had logged as many lines "
    "as the old one by the next read, so its first 27 (its ERROR on the sealed manager-1 among them) were never read",
    # converges (the long run on 726afc9): the simulated network's
    2165: "a slow connect's tail was drawn against py-consul's whole blocking timeout (10 s + wait + wait/16): the "
    "settings watch's read sent after Consul restarted without its data was still connecting at 45 s, and cluster "
    "setup's rewrite of the {addr} template was never read; now drawn against that timeout less the hold",
    # says active only within its lease (helper wact): the service's
    1147: "a SIGTERM's stop took every child of the top supervisor out of the directory before stopping the first, so "
    "Metrics (stopped last) never heard Leadership's LostLeadership at its deadline (6.70 s): neon_cm_active said 1 "
    "for the stop, still at 9.5 s while the standby held the lock",
    1960: "the same: i1 paused past its lease (ended 9.18 s), stopped once it continued (12.99 s); Leadership stepped "
    "down at once, unheard by Metrics, which said 1 still at 15.5 s (the stop waited on a Vault monitor's slow probe); "
    "and (helper wstop) its Leadership, stepping on through the stop, made a new session, tried the lock (14.02 s) and "
    "offered to take over (14.51 s): a stopping instance takes no lock (the member stop-unheard)",
    # never two unsealers (the long run on 726afc9): the service's
    4153: "i1's reset to a slow Vault (0.63 s to take a request in) was written when its Leadership crashed; the "
    "release waited for the Unsealer to cancel, not for the reset on its way, which reached the Vault 66 ms after i2 "
    "took the lock. The lock is now given up only once the gate is shut and its requests answered "
    "(release-on-the-wire)",
    # always reported (the long run on 726afc9): the simulated network's, as 2165
    6240: "after Consul restarted without its data, the active i2 wrote the default settings and its settings watch's "
    "next read (sent at 6.46 s) was still under way at the end: its connect leg's tail was drawn against the whole "
    "blocking timeout (c5e2297 fixed that), so i2 watched the joined manager's Vault at the default template's URL "
    "(unreachable, said at ERROR) and never said it sealed; on the fix the read answers at 14.7 s and i2 says it",
    # keys refused only when they are (the long run on 726afc9): the service's
    8984: "i3, its lock gone with Consul's data but its lease running, gave shares between i1's without a reset; Vault "
    "refused the mixed combination at i1's second share, which i1 took for a malformed key and left out: with three "
    "of the four keys left, the next refusals made it say the keys do not unseal manager-2",
    8069: "4914's family: the only combination stalled once on a follower (a whole poll sealed, the node slow then "
    "hung), and i1 said the keys do not unseal manager-2 (node node03); passes since helper w4914's fix",
    # converges (the long run on 726afc9): the simulator's cluster setup
    8075: "a Consul snapshot saved after Consul lost its data and before cluster setup wrote the base again, restored "
    "after it did: the restore took the base away for good, and the judge wanted a definition; cluster setup now "
    "writes the base again after such a restore (the service's ERROR tells the operator to)",
    # always reported (the long run on 726afc9): the judge's
    7685: "both instances' containers restarted (SIGTERM of both): the holder i1 listed nothing (its own Docker "
    "refusing, the stored definition naming no manager) and i2's fleet crash-looped; with no MonitorsWanted left the "
    "judge took the history for a hand-built one, the holder watching since 0, and wanted its ERROR in the bound; i2 "
    "said it at 24.9 s, took over and unsealed it at 26.5 s",
    # The long run on 726afc9, seeds 9000-11999: failures of families fixed above (each checked at the fix's commit)
    9408: "always reported: 2165's family (a settings watch's read after Consul lost its data, still connecting): "
    "passes since c5e2297",
    9959: "always reported under {addr}: 2843's family (monitors matched by name, not URL host): passes since the "
    "merge of h-w2843",
    11653: "always reported, a manager joined while Consul refused connections: 2843's family, passes since h-w2843",
    11077: "keys refused only when they are, a Vault restarted twice: 4914's family (one stall counted as a refusal), "
    "passes since h-w4914",
    11602: "follows the Swarm, the holder's SwarmWatcher in a long crash loop: 5176's family, passes since h-wswarm",
    # a free lock is taken (the long run on 726afc9): the judge's
    6053: "the active i1 was cut off Consul (6.3 s), then told SIGTERM (10.6 s, back at 17.3 s), and i2's Leadership "
    "died at every start for 33 s: nobody could take the lock, and the judge counted its clock from 9.27 s; it now "
    "runs only while some instance can (CanLead, its Leadership running)",
    # keys refused only when they are (helper wfol): the service's
    2317: "the Unsealer kept a combination that only stalled (a follower restarted before it finished) as refused "
    "after the Vault refused others itself, and said the keys do not unseal it",
    # follows the Swarm (helper wfol): the judge's and the simulated Consul's
    2651: "the judge counted while the only standby that could list had its Leadership given up on (health red until "
    "Docker replaced it); it counts from that container's restart now",
    2788: "the sim saved a Consul snapshot while a rebuilt Consul was down (an empty store), and its restore took the "
    "definition away; consul snapshot save fails then",
    # nothing dead unseen, always reported (helper wrep): the simulator's
    2311: "sim/lives.py read a dying actor's supervisors at its death, after another instance's kill had dropped its "
    "stopped fleet from by_urn: i2's vault-monitors, stopped 1.3 s after its fleet crashed (a monitor's probe slow), "
    "came out with no supervisor and was judged never restarted; now read as it starts",
    2289: "the standby's escalation ERROR (standing by, but sealed for 12 s) said in the 0.5 s the holder's own lease "
    "had lapsed (the lock stayed its own in Consul) was taken for the reporter's own ERROR and stopped counting at the "
    "holder's next lease run; sim/judge.py now knows an escalation by its line",
    2695: "the holder's fleet in a crash loop, the standbys' threshold was counted from the seal though the only "
    "standby's container started again 11 s after it; now from the standby's own start",
    # follows the Swarm (helper wswarm): the judge's
    5176: "the failing holder i1's SwarmWatcher died as it started for 35.65 s (a long crash loop, to 36.26 s; "
    "restarted at 37.82 s): it made no listing that could fail until then, and handed the lock over at 60.86 s, 23 s "
    "after; the judge counted from the other faults' end as if every fault ended at 12 s, not from that restart + a "
    "listing timeout",
    5191: "the same with i2 holding the lock: its SwarmWatcher looping 1.20-33.26 s, restarted at 34.07 s, handed the "
    "lock over at 57.61 s",
    # keys refused only when they are (helper w4914): the service's, and the judge's exception that hid it
    4914: "the only combination (three keys) stalled once on a follower (its read after the threshold held up 1.87 s "
    "by the network past the background unseal, the node then restarted behind a 502 proxy before any reading saw it "
    "unsealed): the Unsealer counted it refused and said the keys do not unseal manager-2 (node node03); the judge's "
    "exception for a restarted Vault was keyed by its address, never the service's name for it under {addr}",
    # always reported (helper w2843): the judge's records and its standbys
    2843: "the standby said 10.0.1.6 past its threshold at 13 s; its container was replaced at 120 s, and the judge "
    "counted its new process's threshold from the seal: sim/lives.py recorded the monitors wanted by their names "
    "(joined-1), the judge knows a Vault by its URL's host (the address under {addr}), so no standby was ever seen "
    "watching it; and while the holder's lease lapsed (its lock still held) the standbys were not sought at all",
    # follows the Swarm (helper wfol2): the service's
    10856: "i1's publisher read the definition at 0.19 s and the answer came 9.7 s later (a slow connect): its view "
    "of the lease (the LeaseExtended told meanwhile waited in its inbox behind the read) had run out, so it wrote "
    "nothing and dropped the listing; i1's Docker hung from 4.9 s and no listing came again, nothing was written until "
    "the handover at 29.2 s, and the new holder's read was 6 s slow: the next LeaseExtended still running now tries "
    "the listing again (written at 9.9 s)",
    10420: "the holder i2's settings actor died as it started (38 s loop, given up at 39.6 s), so its SwarmWatcher, "
    "waiting for the settings, never listed: its hung Docker failed no listing and it never handed the lock to i1, "
    "which listed the worker's leaving at 11.8 s; settings not told 10 s after the start now start the node poll on "
    "the default interval (it handed over at 43.6 s, i1 wrote at 44.0 s)",
    1873: "(not in the long run's failures: it failed once its monitors were judged by their URL's host) a Vault "
    "unsealed at 8.774 s restarted 14 ms later, between two of the world's 0.1 s looks: its monitor saw it unsealed "
    "and forgot its report, the history did not, and the seal was timed from 0.1 s; the world records both now",
    # --- helper wkeys2 (the long run on 726afc9) ---
    # keys refused only when they are: the service's
    10419: "the whole Vault cluster restarted between i2's second share and its third to manager-2; the node, joining "
    "through the first, refused the third with 400 `Vault is not initialized` (OpenBao checks that before it records a "
    "share), which the Unsealer took at its threshold for the only combination's refusal (three keys) and said the "
    "keys do not unseal manager-2; the next attempt unsealed it",
    # nothing dead unseen, then a series names one Vault: the judge's and the world's
    11684: "manager-2 named two nodes under {addr}: node02 demoted at 1.86 s, i2's fleet stopped its monitor (not "
    "wanted: not dead); promoted again at 11.36 s, the judge counted the monitor from that stop and found it dead "
    "before the fleet started it (12.87 s): a monitor wanted again is due from then. On, the world read i1's series "
    "manager-2 as naming two Vaults, though i1's own Docker refused from 5.76 s and it never listed the promotion",
    # --- helper wrep2 (the long run on 726afc9) ---
    # always reported: the judge's
    11656: "a manager joined at 11.67 s while no instance could list the Swarm (the holder i1's SwarmWatcher in a long "
    "crash loop until 38.1 s, the only standby i2's own Docker hung): no fleet monitored it, and the judge counted the "
    "standbys' threshold from the seal as if one had listed it; it counts from when an instance can list again, and "
    "i1 said it and unsealed it at 38.9 s",
    # --- the long run on 03d2912 (2026-12-07, second session) ---
    # follows the Swarm: the service's
    17720: "a Consul snapshot saved at 8.8 s, after the standby i2's session was made and before it offered (9.2 s), "
    "was restored at 12.4 s: the standby key was free again under i2's live session, and i2, sure of its offer, never "
    "made it again; i1, active with its Docker hung since 3.9 s, found no standby that could list and kept the lock "
    "(`no standby that can is known`, 29.1 s). A standby now makes its offer again every 5 s",
    19272: "the same as 17720: a snapshot saved at 9.9 s, restored at 14.7 s, freed the standby key under i2's live "
    "session; i1, its own Docker refusing since 4.1 s, kept the lock (fixed by the same renewal of the offer)",
    # converges: the world's
    19147: "latency tails never stopped: three of the active i1's Consul calls from 15 s on took 8-17 s each (a 3 % "
    "tail chance a leg, up to 1.3 x the 10 s timeout), the last answered at 41.8 s past the lease it was begun under, "
    "so the label of 6.6 s was not written by the end (45 s); tails now stop 15 s before the end, as faults do",
    # --- the long run on d52477d (its first 2,000 seeds; its new setups' seeds) ---
    # follows the Swarm: the service's
    1719: "the holder i2's SwarmWatcher died once at 27.4 s (the holder-loops setup) and its supervisor, after the "
    "publisher's crash loop at 2-12 s, restarted it 16 s later: one death, no second to make it unfit, no listing: "
    "a listing side dead 5 s with no listing since now makes an active instance unfit",
    1867: "the same as 1719",
    # never two unsealers: the judge's
    898: "Consul rebuilt without its data at 7.7 s: i1 took the lock at 8.4 s while i2's lease ran to 9.2 s (the "
    "abrupt-loss exception); i2's share, written before that deadline to a Vault 0.77 s slow to take a request in (the "
    "stop-on-the-wire setup), came in at 9.55 s: within the margin, as the judge's first clause allows; the exception "
    "now does too",
    1409: "the same as 898: Consul restarted without its data, a share 0.82 s slow to come in",
    # --- the long run on 6ddc47d ---
    # never two unsealers: the judge's
    4161: "i1's reset came in at 5.801 s, i1 paused from 5.445 s (its host frozen): a receipt is recorded on its "
    "sender's task, so it was heard at 10.3 s, after i3 took the lock at 8.258 s, and judged against that later "
    "acquisition; the judge now takes the last acquisition as of the receipt",
    # --- a sweep of main on 2026-12-07 (seeds 50,000-50,999): always reported, the judge's ---
    50202: "the holder i2 listed the Vault on 10.0.0.2 (sealed at 4.2 s) but its vault-fleet died at every start (a "
    "36 s crash loop), and the only standby i1 could not list (its own Docker hung) while the stored definition named "
    "no manager (two nodes share a hostname: never published): no instance could learn of it into a running fleet, "
    "yet the standbys' clock ran from the seal because the holder could list; `can_list` now asks for a running fleet",
    27339: "the service's: i2's lease ran out at 7.58 s while its reset was on its way to a Vault 0.93 s slow to take "
    "it in; a rolling update's SIGTERM then released the lock at once (the gate was shut only by a stop while "
    "leading), i1 took it at 8.14 s and the reset came in at 8.49 s; a stop now shuts the gate and waits before any "
    "release",
    8302: "i1 acquired the lock at 8.182 s, its answer 0.82 s late; its session was destroyed at 8.285 s and i3 took "
    "the lock at 8.446 s; i1's lease, told at 9.003 s and counted from its pass at 8.168 s, was the one Consul cut "
    "(news i1 could not have), but the abrupt-loss exception looked only at leases told by the loss; it now takes "
    "the lease counting from a pass made by then (7404, 8750 and 9213 of the same run were 4161's kind)",
    20659: "the Consul backup restored at 10.3 s put its base back in Consul and in the judge, not in the world's "
    "record of the base, so the snapshot restored at 12.4 s, whose base (after Consul was rebuilt) was back in Consul "
    "too, was taken for the world's and not told to the judge, which then expected the backup's base at the end",
    # --- the long run on 629a812: always reported, the judge's ---
    1642: "the only instance that could list, i1, said the Vault on manager-1 at ERROR (standby, then active) and was "
    "gone 25.5-28.38 s for a rolling update (i2's own Docker hung, the stored definition naming no manager when it "
    "last read it): what its old process said is forgotten with it, and the judge counted from the seal as if an "
    "instance could list meanwhile; a process that is gone lists nothing (`ContainerExited`)",
    # --- the long run on 31e6032 and a sweep of the relock setup's seeds: never two unsealers, the world's ---
    3514: "the `relock as the stop begins` setup slowed every sender's request to the Vault, not only its target's: "
    "i2, whose lease Consul's lost data had cut, wrote a share at 7.596 s that came in at 9.926 s, past its lease's "
    "margin; the setup's slowness is now for its sender alone (`receive_slow`)",
    2585: "two setups armed one Vault (relock, stop on the wire) and their delays added up: i1's share came in 1.4 s "
    "past its lease's deadline; a sender's own delay and the Vault's are one proxy's, the longer of the two",
    # --- the long run on f40df28: nothing dead unseen, the world's ---
    22351: "i2's process, told SIGTERM at 10.23 s (the relock setup), exited at 13.33 s with its vault-fleet's call "
    "still under way; that call came back at 18.97 s, after the next process had started (14.61 s), and the old fleet "
    "started monitors as i2's, then ended: the judge saw i2's monitor of manager-2 dead and never restarted. A "
    "process's threads end when its main thread returns (the service's are daemon threads): `SimService` now ends them",
}


@pytest.mark.parametrize("seed", sorted(LONG_RUN_FIXED))
def test_a_fixed_seed_of_the_long_run_keeps_every_invariant(seed: int) -> None:
    result = cluster.run_seed(seed)

    assert (result.ok, result.invariant) == (True, ""), f"{LONG_RUN_FIXED[seed]}:\n{result.report()}"


#: Failing seeds of the long run on 726afc9 (seeds 0-5999 of 2026-12-07: 6 of 6,000 failed, every one fixed since,
#: above), found at the session's end and not analysed yet; each invariant named is the one it broke
#: (design-simulation.md). None is left (the test is skipped while it is empty).
LONG_RUN_FAILURES: dict[int, str] = {}


@pytest.mark.xfail(strict=True, reason="found by the long run on 726afc9, not analysed yet (LONG_RUN_FAILURES)")
@pytest.mark.parametrize("seed", sorted(LONG_RUN_FAILURES))
def test_a_seed_of_the_long_run_keeps_every_invariant(seed: int) -> None:
    result = cluster.run_seed(seed)

    assert (result.ok, result.invariant) == (True, ""), f"{LONG_RUN_FAILURES[seed]}:\n{result.report()}"
