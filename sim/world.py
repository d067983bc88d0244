"""One simulated run: the servers, two or three instances, the faults a seed chooses, and the invariants checked
as it goes. `World(seed).run()` is the whole of it; `random.Random(seed)` is its only source of nondeterminism."""

from __future__ import annotations

import hashlib
import random
import traceback
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs

from messages.leadership import BecameLeader, LeaseExtended
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeChanged, NodesObserved, SwarmNode
from messages.vault import VaultObserved, VaultState
from neon_cm import monitoring
from neon_cm.decider import CancelTimer, Log, StartTimer
from neon_cm.definition import build_nodes, with_nodes
from neon_cm.encoding import decode_definition, encode_definition
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY
from sim import swarm
from sim.consul import ELECTION_ANSWERS, CheckFlavour, SimConsul
from sim.coverage import Coverage
from sim.docker import SimDocker
from sim.gateways import Call, Crashed, HungConsul, SimCrash, Violation
from sim.instance import TEMPLATE, Instance, wire
from sim.loop import Loop
from sim.shell import LATENCY, short
from sim.vault import SimVault

#: Faults happen before this (simulated seconds); after it the world is left alone to converge.
FAULTS_END = 12.0
#: The run ends here; convergence is checked then.
END = 28.0
#: How often the time-based invariants are looked at.
CHECK_EVERY = 0.5
#: Poll intervals the simulated instances run with (settings; the service's defaults are 30 s).
NODE_POLL, VAULT_POLL = 3.0, 3.0
CHECK_TTL = 3.0
#: A dead actor must be running again (or named by health) this long after it died: the longest backoff + 1 s.
RESTART_BOUND = 5.0
#: A sealed Vault must be reported at ERROR this long after its clock starts: two polls, the check's TTL (a
#: standby taking over from a paused or crashed holder) and 1.5 s for the lock's and the role's steps.
REPORT_MARGIN = CHECK_TTL + 1.5
THRESHOLD, SHARES = 3, 5
#: How often every share of the credentials is rotated away (none unseals): the keys-refused ERROR's path.
ALL_ROTATED = 0.05
#: What that ERROR says.
KEYS_REFUSED = "the unseal keys do not unseal this Vault"
#: How often one instance's own Docker fails (hangs or refuses) from a moment before the faults stop until the end
#: (issue 28: the active instance hands the lock over), drawn from a generator of its own.
OWN_DOCKER_FAILS = 0.15
#: With a fit standby, the definition follows the Swarm within this of the later of the failure's start, the last
#: change to the Swarm and (when the seed has other faults) their end: two node polls (the longest interval) and
#: two listing timeouts (10 s: a hung daemon) for the two failed listings in a row, a lock step of each instance, and
#: a listing and a write with 2 s to spare.
DOCKER_TIMEOUT = 10.0
FOLLOW_MARGIN = 3.5
MANAGERS, WORKERS = 3, 2
#: Liveness mode (`World(liveness=True)`, `python -m sim --liveness`): how often convergence is looked at after
#: FAULTS_END, and the bound it must be reached within (see liveness_bound).
LIVENESS_STEP = 0.1
#: A standby's lock step (neon_cm/lease.py STANDBY_SECONDS).
STANDBY_STEP = 0.5


@attrs.frozen
class Result:
    """What one seed came to."""

    seed: int
    ok: bool
    invariant: str = ""
    text: str = ""
    trace: tuple[str, ...] = ()
    steps: int = 0
    faults: tuple[str, ...] = ()
    trace_hash: str = ""
    """A digest of every step the run took (when, who, what it decided on): two runs of one seed give the same."""
    reached: frozenset[str] = frozenset()
    """The fault kinds that fired and the decider states and transitions reached (sim/coverage.py)."""
    kinds_on: frozenset[str] = frozenset()
    """The fault kinds swarm testing left on in this seed (sim/swarm.py)."""
    converged_after: float | None = None
    """Liveness mode: seconds from FAULTS_END until the service converged for good."""

    def report(self, steps: int = 40) -> str:
        """A short trace: the seed, its faults, the last steps, and the invariant that failed."""
        lines = [f"seed {self.seed}: {'ok' if self.ok else 'FAILED'} after {self.steps} steps"]
        lines += [f"  fault {fault}" for fault in self.faults]
        if not self.ok:
            lines += ["  last steps:", *(f"    {line}" for line in (self.trace[-steps:] if steps else ()))]
            lines.append(f"  invariant violated: {self.invariant}: {self.text}")
            lines.append(f"  replay: python -m sim --seed {self.seed}")
        return "\n".join(lines)


class World:
    """The servers, the instances and the invariants of one seed."""

    def __init__(
        self,
        seed: int,
        old: frozenset[int] = frozenset(),
        trace_steps: int = 40,
        scenario: Callable[[World], None] | None = None,
        instances: int | None = None,
        swarm: bool = True,
        liveness: bool = False,
    ) -> None:
        self.seed = seed
        self.coverage = Coverage()
        self.liveness = liveness
        """Faults stop at FAULTS_END (the own-Docker fault, which lasts to the end, is not drawn) and the service must
        converge within liveness_bound(); the time it took is in the result."""
        self.converged_since: float | None = None
        self.kinds_on = swarm_kinds(seed) if swarm and scenario is None else frozenset(KIND_NAMES)
        """The fault kinds this seed may draw (swarm testing: sim/swarm.py)."""
        self.old = old
        """Defects of issue 17 whose old behaviour runs instead of the fix (sim/standin.py, sim/instance.py)."""
        self.rng = rng = random.Random(seed)
        self.loop = Loop()
        self.trace: deque[tuple[float, str, str, Any, Any]] = deque(maxlen=trace_steps)
        self.digest = hashlib.sha256()
        self.consul = SimConsul(rng.choice(list(CheckFlavour)))
        self.docker = SimDocker(MANAGERS, WORKERS)
        self.node_poll, self.vault_poll = NODE_POLL, VAULT_POLL
        self.longest_vault_poll = VAULT_POLL
        shares = tuple(f"{rng.getrandbits(128):032x}" for _ in range(SHARES))
        credentials = rng.sample(shares, rng.choice((3, 3, 4, 5)))
        if rng.random() < 0.3:  # a share rotated away (or another cluster's) among the operator's
            credentials.insert(rng.randrange(len(credentials) + 1), f"{rng.getrandbits(128):032x}")
        # Every share rotated away (issue 19), from a generator of its own so that the other seeds run as before.
        if random.Random(f"rotated {seed}").random() < ALL_ROTATED:
            credentials = [f"{index:08x}{rng.getrandbits(96):024x}" for index in range(len(credentials))]
        self.credentials = tuple(credentials)
        self.bad_share = any(share not in shares for share in credentials)
        self.end = END
        """When the run ends (later when a bad share makes the Unsealer try combinations: see run)."""
        self.secrets = tuple(credentials)
        self.unsealable = sum(share in shares for share in credentials) >= THRESHOLD
        self.vaults: dict[str, SimVault] = {}
        hostnames = [node["Description"]["Hostname"] for node in self.docker.nodes]
        for number, host in enumerate(hostnames):  # a worker's Vault matters once it is promoted
            follower = 0.0 if number == 0 else rng.choice((0.0, 0.0, 0.5, 1.5))
            vault = SimVault(host, shares, THRESHOLD, follower)
            if rng.random() < 0.4:
                vault.sealed, vault.sealed_since = False, None
            self.vaults[host] = vault
        self.base_version = 0
        self.base: dict[str, Any] = {}
        self.setup_publishes()
        self.valid_until: dict[str, float] = {}
        self.leases: dict[str, list[tuple[float, float]]] = {}
        """Per instance: (when, deadline) of every lease its Leadership told."""
        self.reported: dict[tuple[str, str], float] = {}
        """(host, instance): when that instance last said at ERROR that the Vault has a problem, while its monitor has
        not seen it unsealed since (a Vault unsealed and sealed again between two polls is still the same report)."""
        self.disturbed_at = 0.0
        """When the reporting was last disturbed: a pause, restart or container restart of the active instance (the
        one holding a lease), or of any instance while none does. A standby's disturbance does not count: the
        active one reports meanwhile (it counted before issue 26, so any instance's pause hid the active's silence)."""
        self.keys_refused: list[tuple[float, str, str]] = []
        """(when, instance, node) of every ERROR saying the keys do not unseal a Vault."""
        self.keys_refused_since: dict[tuple[str, str], float] = {}
        """(instance, node): when that instance's running Unsealer last said so."""
        self.listed_at: dict[str, float] = {host: 0.0 for host in self.docker.managers()}
        """Since when an instance's listing has shown each node as a manager (after its last role change)."""
        self.drops: list[tuple[str, str, float]] = []
        self.share_hooks: list[Callable[[Instance, str], None]] = []
        """Told of every share as it goes out (a scenario's fault timed to an unseal attempt)."""
        count = rng.choice((2, 2, 2, 3))
        self.instances = [Instance(self, f"i{number + 1}") for number in range(instances or count)]
        for instance in self.instances:
            self.loop.at(rng.uniform(0.0, 0.3), partial(wire, instance))
        self.faults: list[str] = []
        self.own_docker: dict[str, tuple[str, float]] = {}
        """Per instance: how its own Docker fails (`hangs`, `refuses`) and from when (until the end)."""
        self.follow_from: float | None = None
        """With one instance's Docker failing: when the clock of `follows the Swarm` starts (None: not checked)."""
        if scenario is None:
            self.record("--", "SWARM", f"fault kinds on: {', '.join(sorted(self.kinds_on))}", ())
            self.schedule_faults()
            if not liveness:
                self.schedule_own_docker(random.Random(f"own docker {seed}"))
        else:
            scenario(self)  # a regression scenario: its own faults (the seed still draws latencies and the rest)
        self.schedule_checks()

    # ------------------------------------------------------------------ the shells' services

    def latency(self) -> float:
        return self.rng.uniform(*LATENCY)

    def message_delay(self) -> float:
        return self.rng.random() * 0.003

    def hung(self, server: str, now: float) -> bool:
        if server == "consul":
            return not self.consul.reachable(now) and self.consul.hung
        if server.startswith("docker"):
            own = self.own_docker.get(server.removeprefix("docker:"))
            return not self.docker.answers(now) or (own is not None and own[0] == "hangs" and now >= own[1])
        return not self.vaults[server.removeprefix("vault:")].answers(now)

    def server_answers(self, server: str, now: float) -> bool:
        return not self.hung(server, now) and (server != "consul" or self.consul.reachable(now))

    def perform(self, instance: Instance, call: Call, on_answer: Callable[[Any], None]) -> None:
        """Send `call` now; the server applies it when it arrives; the answer comes back to the instance."""
        sent = self.loop.now
        if call.share:
            self.share_sent(instance, call.share, sent)

        def arrive() -> None:
            now = self.loop.now
            if self.hung(call.server, now):
                hung = call.hung.outcome() if isinstance(call.hung, HungConsul) else call.hung
                instance.at(sent + call.timeout, lambda: on_answer(hung))
                return
            try:
                answer = call.apply(now)
            except SimCrash as error:  # an old behaviour's client library raising on an answer
                answer = Crashed(str(error))
            if now < instance.paused_until:
                instance.at(now, lambda: on_answer(answer))
            else:
                on_answer(answer)  # the way back is part of the one latency drawn: one step, not two

        self.loop.at(sent + self.latency(), arrive)

    def dropping(self, instance: Instance, actor: str) -> bool:
        now = self.loop.now
        return any(name == instance.name and target == actor and now < until for name, target, until in self.drops)

    def record(self, instance: str, actor: str, event: Any, effects: Any) -> None:
        self.trace.append((self.loop.now, instance, actor, event, effects))
        self.digest.update(f"{self.loop.now!r} {instance} {actor} {event!r} {effects!r}\n".encode())
        owner = next((one for one in getattr(self, "instances", ()) if one.name == instance), None)
        deciding = owner.actors.get(actor) if owner is not None else None
        self.coverage.saw(actor, event, effects, deciding.state if deciding is not None else None)

    # ------------------------------------------------------------------ invariants told by the shells

    def check_effect(self, instance: Instance, actor: str, effect: Any) -> None:
        """No secret: no share in any log line or effect."""
        if isinstance(effect, (StartTimer, CancelTimer)):
            return
        text = f"{effect.text} {effect.error or ''}" if isinstance(effect, Log) else repr(effect)
        for secret in self.secrets:
            if secret in text:
                raise Violation("no secret", f"{instance.name}/{actor}: an unseal share in {short(effect)}")

    def logged(self, instance: Instance, actor: str, effect: Log) -> None:
        if effect.level is Level.ERROR and actor.startswith("vault-monitor:"):
            self.reported[(actor.removeprefix("vault-monitor:"), instance.name)] = self.loop.now
        if effect.level is Level.ERROR and actor == "unsealer" and KEYS_REFUSED in effect.text:
            self.keys_refused_said(instance, effect.text.split(":")[0])

    def keys_refused_said(self, instance: Instance, host: str) -> None:
        """Said once: an Unsealer says at ERROR that the keys do not unseal a Vault at most once per reminder
        period (a restarted Unsealer, or another instance, may say it again), not at every poll."""
        now, key = self.loop.now, (instance.name, host)
        self.keys_refused.append((now, instance.name, host))
        said = self.keys_refused_since.get(key)
        if said is not None and now - said < monitoring.REMINDER_SECONDS:
            raise Violation(
                "said once",
                f"{instance.name} said again at {now:.3f} ({said:.3f} before) that the keys "
                f"do not unseal the Vault on {host}",
            )
        self.keys_refused_since[key] = now

    def lease_told(self, instance: Instance, message: Any) -> None:
        """The lease's deadline as its Leadership last told it. A step-down (LostLeadership) ends no deadline told
        before it: its subscribers hear of it a moment later, and until that deadline no other instance can take
        the lock (but for an abrupt release: see share_sent)."""
        if isinstance(message, (BecameLeader, LeaseExtended)):
            self.valid_until[instance.name] = message.valid_until
            self.leases.setdefault(instance.name, []).append((self.loop.now, message.valid_until))
            self.lease_held(instance, message.session, message.valid_until)

    def lease_held(self, instance: Instance, session: str, until: float) -> None:
        """A lease told is a lease held: when Leadership tells a deadline still to come, its session holds the lock
        in Consul at that moment. Exception: an abrupt release (see share_sent) since the pass the lease counts
        from (at most the margin'd TTL ago) is news Leadership cannot have yet."""
        now = self.loop.now
        if until <= now:
            return  # a deadline already past claims nothing
        self.consul.expire(now)
        entry = self.consul.kv.get(LEADER_KEY)
        if entry is not None and entry.session == session and session in self.consul.sessions:
            return
        since = until - (CHECK_TTL - 1.0)
        if any(
            not event.acquired
            and event.owner == instance.name
            and event.cause not in ("", "released")
            and event.time >= since
            for event in self.consul.lock_events
        ):
            return
        raise Violation(
            "a lease told is a lease held",
            f"{instance.name} told a lease until {until:.3f} at {now:.3f}; its session {session} holds no lock",
        )

    def own_docker_fault(self, instance: str, now: float) -> str | None:
        """How `instance`'s own Docker fails at `now` (`hangs`, `refuses`), or None."""
        own = self.own_docker.get(instance)
        return own[0] if own is not None and now >= own[1] else None

    def lease_at(self, instance: str, when: float) -> float:
        """The deadline `instance`'s lease last told at or before `when`."""
        told = [until for at, until in self.leases.get(instance, []) if at <= when]
        return told[-1] if told else 0.0

    def observed(self, instance: Instance, reading: VaultObserved) -> None:
        """A monitor's reading: once it sees its Vault unsealed, its instance's report of a problem is over."""
        if reading.state is VaultState.UNSEALED:
            self.reported.pop((reading.hostname, instance.name), None)

    def listed(self, observed: NodesObserved) -> None:
        for node in observed.nodes:
            if node.role == "manager":
                self.listed_at.setdefault(node.hostname.lower(), self.loop.now)

    def restarted(self, instance: Instance, actor: Any) -> None:
        if actor.name == "unsealer":  # a new Unsealer knows nothing of what the last one said
            self.keys_refused_since = {
                key: at for key, at in self.keys_refused_since.items() if key[0] != instance.name
            }
        if actor.name in ("leadership", "vault-fleet") or actor.name.startswith("vault-monitor:"):
            self.disturbed(instance)

    def disturbed(self, instance: Instance) -> None:
        """`instance` was paused, restarted a reporting actor or its container: the reporting clock starts again if
        it is the active instance, or if no instance is (then any may be the next to report)."""
        now = self.loop.now
        active = [name for name, until in sorted(self.valid_until.items()) if until > now]
        if not active or instance.name in active:
            self.disturbed_at = now

    def share_sent(self, instance: Instance, host: str, now: float) -> None:
        """Never two unsealers: a share goes out only before the sender's lease deadline, and never after another
        instance acquired the lock (since the sender did).

        Exception (the real world cannot do better): when Consul released the sender's lock abruptly (its check
        deregistered, its agent restarted without its checks, Consul restarted without its data), another instance
        may take the lock while the sender's deadline has not passed yet; the sender's shares before the deadline
        its lease had at that moment are not counted (a lease extended after it is not).
        """
        for hook in self.share_hooks:
            hook(instance, host)
        until = self.valid_until.get(instance.name, 0.0)
        if now >= until:
            raise Violation(
                "never two unsealers",
                f"{instance.name} sent a share to {host} at {now:.3f}, its lease ended at {until:.3f}",
            )
        events = self.consul.lock_events
        last = next((event for event in reversed(events) if event.acquired and event.time <= now), None)
        if last is None or last.owner == instance.name:
            return
        own = next((event for event in reversed(events) if event.acquired and event.owner == instance.name), None)
        abrupt = [
            event
            for event in events
            if not event.acquired
            and event.owner == instance.name
            and event.cause not in ("", "released")
            and (own is None or event.time >= own.time)
            and event.time <= last.time
        ]
        if not any(now < self.lease_at(instance.name, event.time) for event in abrupt):
            raise Violation(
                "never two unsealers",
                f"{instance.name} sent a share to {host} at {now:.3f}; {last.owner} took the lock at {last.time:.3f}",
            )

    def definition_written(self, now: float, owner: str) -> None:
        """Never a stale writer: every definition write Consul accepts comes from the lock holder of that moment."""
        holder = self.consul.holder(now)
        if holder != owner:
            raise Violation(
                "never a stale writer", f"{owner} wrote the definition at {now:.3f}; the lock holder: {holder}"
            )

    # ------------------------------------------------------------------ invariants on the clock

    def schedule_checks(self) -> None:
        def check() -> None:
            self.check_dead()
            self.check_reported()
            self.check_follows()
            self.loop.after(CHECK_EVERY, check)  # for the whole run, an extended one too (run_until stops it)

        self.loop.at(CHECK_EVERY, check)

    def check_dead(self) -> None:
        """Nothing dead unseen: every actor that died is running again within the longest backoff (counted from the
        last restart its supervisor decided for it: a sibling's later crash can fold it into a group restart), or
        the instance's health names it (its supervisor gave up). A paused instance's time does not count. Exception: a
        monitor stopped with its fleet while the restarted fleet does not want it (it learns the managers from the
        next listing; health compares the fleet's VaultsToMonitor with the live monitors)."""
        now = self.loop.now
        for instance in self.instances:
            if now < instance.paused_until:
                continue
            for actor in instance.actors.values():
                if actor.died_at is None or now - actor.died_at <= RESTART_BOUND or instance.seen_dead(actor.name):
                    continue
                if instance.restart_due(actor.name, now - RESTART_BOUND):
                    continue  # a sibling's later crash put it in a group restart decided since: its backoff counts
                if actor.name.startswith("vault-monitor:") and not instance.monitor_wanted(actor.name):
                    continue  # stopped with its fleet (dead, or restarted and not knowing that manager yet)
                raise Violation(
                    "nothing dead unseen",
                    f"{instance.name}/{actor.name} dead since {actor.died_at:.3f}, not restarted, health is green",
                )

    def check_reported(self) -> None:
        """Always reported: a sealed Vault is reported at ERROR by at least one instance (a standby reports at INFO)
        within two polls (the longest interval set) + the check's TTL + 1.5 s of its clock, also during a Consul
        outage. The clock starts at the latest of: the seal, the end of the last pause of an instance, the last
        restart of a leadership, fleet or monitor actor, the end of the Vault's garbage or hung answers (what a
        monitor cannot read, it cannot report as sealed), and the first listing showing the node as a manager
        (a node promoted while dockerd hangs is not known to be a manager yet); for a node promoted while one
        instance's own Docker fails, the moment an instance that can list took the lock (a standby reports at INFO)."""
        now = self.loop.now
        for host in self.docker.managers():
            vault = self.vaults[host]
            vault.settle(now)
            if vault.sealed_since is None or host not in self.listed_at:
                continue  # a manager no instance has listed yet (promoted while dockerd hangs) is not watched yet
            since = max(
                vault.sealed_since, self.disturbed_at, vault.garbage_until, vault.hung_until, self.listed_at[host]
            )
            if self.own_docker and self.listed_at[host] >= min(start for _, start in self.own_docker.values()):
                # Promoted while one instance's own Docker fails: that instance does not know the manager, and a
                # standby that does reports it at INFO until the lock is handed over to an instance that can list.
                holder = self.consul.holder(now)
                if holder is None or holder in self.own_docker:
                    continue
                taken = [event.time for event in self.consul.lock_events if event.acquired and event.owner == holder]
                since = max(since, taken[-1] if taken else since)
            if any(reported == host for reported, _ in self.reported):
                continue
            if now - since > 2 * self.longest_vault_poll + REPORT_MARGIN:
                raise Violation(
                    "always reported", f"the Vault on {host} is sealed since {since:.3f}; no instance said so at ERROR"
                )

    def check_follows(self) -> None:
        """Follows the Swarm: with one instance's Docker failing and another that can list (a fit standby), the
        definition in Consul is the Swarm's within FOLLOW_BOUND (an active instance that cannot list hands the lock
        over; neon_cm/handover.py) of the later of the failure's start, the Swarm's last change and the end of the
        seed's other faults."""
        if self.follow_from is None:
            return
        start = max([self.follow_from, *(at for at, _ in self.docker.events)])
        bound = 2 * (max(self.node_poll, NODE_POLL) + DOCKER_TIMEOUT) + 1.0 + 0.5 + FOLLOW_MARGIN
        if self.loop.now - start <= bound:
            return
        entry = self.consul.kv.get(DEFINITION_KEY)
        nodes = build_nodes(SwarmNode.from_docker(node) for node in self.docker.nodes).nodes
        if entry is None or decode_definition(entry.value).get("Nodes") != nodes:
            raise Violation(
                "follows the Swarm",
                f"the definition in Consul is not the Swarm's {self.loop.now - start:.1f} s after {start:.3f}; "
                f"the lock holder: {self.consul.holder(self.loop.now)}; failing Docker: {sorted(self.own_docker)}",
            )

    def check_converged(self) -> None:
        """Converges: once faults stop, by END the definition in Consul is the Swarm's on cluster setup's latest base,
        and every Vault is unsealed when the credentials hold `threshold` valid shares. With a bad share among them,
        the Vaults have 2 x (threshold + 1) polls more: each combination Vault refuses costs a poll, with one bad
        share a valid combination is at most threshold + 1 tries away (the first refused, then one leaving out
        each of its shares in turn; two when the credentials hold twice the threshold), and after a whole-cluster
        restart the followers try theirs once the first node is unsealed (they join through it)."""
        now = self.loop.now
        entry = self.consul.kv.get(DEFINITION_KEY)
        hash_entry = self.consul.kv.get(HASH_KEY)
        nodes = build_nodes(SwarmNode.from_docker(node) for node in self.docker.nodes).nodes
        if entry is None:
            raise Violation("converges", "no definition in Consul")
        stored = decode_definition(entry.value)
        expected = with_nodes(self.base, nodes)
        if {key: value for key, value in stored.items() if key != "Hash"} != expected:
            raise Violation(
                "converges", f"the definition in Consul is not the Swarm's on the latest base: {short(stored, 300)}"
            )
        if hash_entry is None or hash_entry.value.decode() != stored.get("Hash"):
            raise Violation("converges", "the hash key does not match the definition")
        if self.unsealable:
            for host in self.docker.managers():
                vault = self.vaults[host]
                vault.settle(now)
                if vault.sealed:
                    raise Violation("converges", f"the Vault on {host} is still sealed")

    # ------------------------------------------------------------------ cluster setup and faults

    def setup_publishes(self) -> None:
        """Cluster setup writes a base definition (at start, and again after Consul lost its data)."""
        if self.consul.no_leader(self.loop.now) is not None:  # its write failed: it tries again after the election
            self.loop.at(self.consul.leaderless_until, self.setup_publishes)
            return
        self.base_version += 1
        self.base = {"Name": f"cluster-{self.seed}", "Setup": self.base_version, "Nodes": {}}
        value, hash_ = encode_definition(self.base)
        now = self.loop.now
        self.consul.kv_put(now, DEFINITION_KEY, value, "setup")
        self.consul.kv_put(now, HASH_KEY, hash_.encode(), "setup")
        self.record("--", "cluster-setup", f"publishes base {self.base_version}", ())

    def schedule_faults(self) -> None:
        rng = self.rng
        kinds = [kind for kind in FAULT_KINDS if kind.__name__ in self.kinds_on]
        for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 6))):
            when = rng.uniform(0.5, FAULTS_END)
            kind = rng.choice(kinds)
            self.inject(when, *kind(self, rng), kind=kind.__name__)
        self.faults.sort()

    def schedule_own_docker(self, rng: random.Random) -> None:
        """In some seeds one instance's own Docker (its manager's daemon) hangs or refuses until the end, from a
        moment when that instance holds the lock if one does: the lock must go to an instance that can list."""
        if rng.random() >= OWN_DOCKER_FAILS:
            return
        when, kind = rng.uniform(0.5, 6.0), rng.choice(("hangs", "refuses"))
        others = bool(self.faults)

        def act() -> None:
            now = self.loop.now
            holder = self.consul.holder(now)
            name = holder if holder in {instance.name for instance in self.instances} else self.instances[0].name
            self.own_docker[name] = (kind, now)
            self.coverage.fault("own_docker")
            self.follow_from = FAULTS_END + DOCKER_TIMEOUT if others else now
            self.record("--", "FAULT", f"{name}'s own Docker {kind} until the end", ())

        self.faults.append(f"{when:7.3f} the lock holder's own Docker {kind} until the end")
        self.faults.sort()
        self.loop.at(when, act)
        bound = 2 * (4.0 + DOCKER_TIMEOUT) + 1.5 + FOLLOW_MARGIN
        self.end = max(self.end, (FAULTS_END + DOCKER_TIMEOUT if others else 6.0) + bound + 1.0)

    def inject(self, when: float, action: Callable[[], None], text: str, kind: str = "") -> None:
        """Schedule a fault (of `kind`, for the coverage table) at `when`."""
        self.faults.append(f"{when:7.3f} {text}")
        self.loop.at(when, lambda: self.fault(action, text, kind))

    def lasting(self, seconds: float) -> float:
        """A fault's duration, cut so that it is over when the faults stop (a call it hung still waits out its
        client's timeout after that: 10 s at most, within the time left to converge)."""
        return max(0.0, min(seconds, FAULTS_END - self.loop.now))

    def fault(self, action: Callable[[], None], text: str, kind: str = "") -> None:
        self.record("--", "FAULT", text, ())
        if kind:
            self.coverage.fault(kind)
        action()

    def run(self) -> Result:
        saved = scale_time()
        try:
            if self.liveness:
                self.run_liveness()
            self.loop.run_until(self.end, lambda: None)
            try:
                self.check_converged()
            except Violation as violation:
                if not (violation.text.endswith("still sealed") and self.bad_share):
                    raise
                # Each combination Vault refuses costs a poll: with one bad share, up to threshold + 1 of them, for
                # the first node and then again for the followers that join through it (a whole-cluster restart).
                self.end += 2 * (THRESHOLD + 1) * self.longest_vault_poll
                self.loop.run_until(self.end, lambda: None)
                self.check_converged()
        except Violation as violation:
            return self.result(violation.invariant, violation.text)
        except Exception as error:  # noqa: BLE001 -- a decider (or the sim) raised: a bug, reported with its seed
            return self.result("no decider raises", "".join(traceback.format_exception(error)[-6:]))
        finally:
            restore_time(saved)
        if self.trace.maxlen is not None and self.trace.maxlen > 10**6:  # a replay asking for the whole trace
            return attrs.evolve(self.result("", ""), ok=True)
        converged = None if self.converged_since is None else self.converged_since - FAULTS_END
        return Result(
            self.seed,
            True,
            steps=self.loop.steps,
            faults=tuple(self.faults),
            trace_hash=self.digest.hexdigest(),
            reached=frozenset(self.coverage.reached),
            kinds_on=self.kinds_on,
            converged_after=converged,
        )

    def run_liveness(self) -> None:
        """Liveness mode: from FAULTS_END, look every LIVENESS_STEP whether the service has converged (as
        check_converged judges); it must be converged within liveness_bound() of FAULTS_END and stay so for
        SETTLE more (then the run ends). `converged_since` is the moment from which it stayed converged."""
        self.loop.run_until(FAULTS_END, lambda: None)
        deadline = FAULTS_END + liveness_bound(self)
        while self.loop.now < deadline + LIVENESS_STEP / 2:
            try:
                self.check_converged()
            except Violation:
                self.converged_since = None
            else:
                if self.converged_since is None:
                    self.converged_since = self.loop.now
                if self.loop.now - self.converged_since >= settle(self):
                    break
            self.loop.run_until(self.loop.now + LIVENESS_STEP, lambda: None)
        if self.converged_since is None:
            self.check_converged()  # says what is not converged
            raise Violation(
                "converges within the bound",
                f"not converged {liveness_bound(self):.1f} s after the faults stopped at {FAULTS_END:g} s",
            )
        self.end = self.loop.now

    def result(self, invariant: str, text: str) -> Result:
        trace = tuple(
            f"{at:9.4f} {instance:>2} {actor:<26} {event if isinstance(event, str) else short(event)}"
            + (f" -> {', '.join(short(effect, 110) for effect in effects)}" if effects else "")
            for at, instance, actor, event, effects in self.trace
        )
        return Result(
            self.seed,
            False,
            invariant,
            text,
            trace,
            self.loop.steps,
            tuple(self.faults),
            self.digest.hexdigest(),
            frozenset(self.coverage.reached),
            self.kinds_on,
        )


# --------------------------------------------------------------------------- time scaled down

#: The service's time constants the sim scales down with its polls (30 s -> 3 s), so a seed stays short: a monitor
#: asks the Unsealer again after two polls without an answer (the service: 60 s, two default polls).
SCALED = {(monitoring, "UNSEAL_ANSWER_SECONDS"): 2 * VAULT_POLL}


def scale_time() -> dict[tuple[Any, str], Any]:
    saved = {(module, name): getattr(module, name) for module, name in SCALED}
    for (module, name), value in SCALED.items():
        setattr(module, name, value)
    return saved


def restore_time(saved: dict[tuple[Any, str], Any]) -> None:
    for (module, name), value in saved.items():
        setattr(module, name, value)


# --------------------------------------------------------------------------- fault kinds: (action, description)

Fault = tuple[Callable[[], None], str]


def crash(world: World, rng: random.Random) -> Fault:
    instance, pick = rng.choice(world.instances), rng.random()

    def act() -> None:
        names = sorted(name for name, actor in instance.actors.items() if actor.alive and name != "service")
        if names:
            instance.actors[names[int(pick * len(names))]].crash("injected")

    return act, f"crash an actor of {instance.name}"


def crash_together(world: World, rng: random.Random) -> Fault:
    """Two children of one supervisor crash in one moment (two monitors failing in one poll round)."""
    instance, pick = rng.choice(world.instances), rng.random()

    def act() -> None:
        groups: dict[str, list[str]] = {}
        for name, actor in sorted(instance.actors.items()):
            parent = instance.parent.get(name)
            if actor.alive and parent is not None:
                groups.setdefault(parent, []).append(name)
        pairs = [names[:2] for _, names in sorted(groups.items()) if len(names) >= 2]
        if pairs:
            for name in pairs[int(pick * len(pairs))]:
                instance.actors[name].crash("injected")

    return act, f"crash two actors of one supervisor of {instance.name} together"


def crash_loop(world: World, rng: random.Random) -> Fault:
    """An actor dies as it starts, for a while (a bug its restarts cannot get past): its supervisors' intensity
    runs out, they escalate, and past the top supervisor's health turns red and Docker restarts the container."""
    instance, seconds = rng.choice(world.instances), rng.uniform(5.0, 15.0)
    name = rng.choice(("unsealer", "vault-fleet", "swarm-watcher", "definition-publisher", "leadership"))

    def act() -> None:
        instance.poisoned[name] = min(world.loop.now + seconds, FAULTS_END)  # faults stop then
        actor = instance.actors.get(name)
        if actor is not None and actor.alive:
            actor.crash("injected: dies as it starts")

    return act, f"{instance.name}/{name} dies as it starts, for {seconds:.2f} s"


def pause(world: World, rng: random.Random) -> Fault:
    instance, seconds = rng.choice(world.instances), rng.uniform(3.5, 6.0)

    def act() -> None:
        instance.pause(seconds)

        was_active = world.valid_until.get(instance.name, 0.0) > world.loop.now

        def resumed() -> None:
            instance.resumed()
            if was_active:  # the reporter was silent while paused: the takeover (within the margin) counts from here
                world.disturbed_at = world.loop.now
            else:
                world.disturbed(instance)

        world.loop.at(instance.paused_until, resumed)

    return act, f"pause {instance.name} for {seconds:.2f} s"


def consul_outage(world: World, rng: random.Random) -> Fault:
    # Up to longer than the reporting bound (2 polls + TTL + 1.5 s = 10.5 s): reporting during an outage is checked.
    seconds, hung = rng.uniform(0.5, 14.0), rng.random() < 0.5
    return (
        lambda: world.consul.outage(world.loop.now, world.lasting(seconds), hung),
        f"Consul {'hung' if hung else 'refusing connections'} for {seconds:.2f} s",
    )


def consul_refusing(world: World, rng: random.Random) -> Fault:
    """The service's token loses its rights for a while (a policy edited, a token replaced): every call is a 403."""
    seconds = rng.uniform(0.5, 5.0)

    def act() -> None:
        world.consul.refusing_until = world.loop.now + world.lasting(seconds)

    return act, f"Consul refuses the service's token (403) for {seconds:.2f} s"


def consul_restart(world: World, rng: random.Random) -> Fault:
    keep, seconds, setup = rng.random() < 0.5, rng.uniform(0.3, 2.0), rng.uniform(0.2, 3.0)

    def act() -> None:
        world.consul.restart(world.loop.now, seconds, keep)
        if not keep:
            world.loop.after(seconds + setup, world.setup_publishes)

    return act, f"Consul restarts {'with' if keep else 'without'} its data, down {seconds:.2f} s"


def agent_restart(world: World, rng: random.Random) -> Fault:
    lose, seconds = rng.random() < 0.5, rng.uniform(0.2, 1.5)
    return (
        lambda: world.consul.agent_restart(world.loop.now, seconds, lose),
        f"the Consul agent restarts{' losing its checks' if lose else ''}, down {seconds:.2f} s",
    )


def deregister_check(world: World, rng: random.Random) -> Fault:
    instance = rng.choice(world.instances)

    def act() -> None:
        leadership = instance.actors.get("leadership")
        if leadership is not None and leadership.alive:
            world.consul.check_deregister(world.loop.now, leadership.state.check_id, "deregistered by a peer")

    return act, f"{instance.name}'s check deregistered"


def session_destroyed(world: World, rng: random.Random) -> Fault:
    """`consul session destroy` of the lock holder's session (or its agent's serfHealth critical, a snapshot
    restore): the lock is released while the holder's check keeps passing."""

    def act() -> None:
        entry = world.consul.kv.get(LEADER_KEY)
        if entry is not None and entry.session is not None:
            world.consul.session_destroy(world.loop.now, entry.session)

    return act, "the lock holder's session destroyed (its check still passing)"


def consul_election(world: World, rng: random.Random) -> Fault:
    """The Consul leader dies: the agent answers the calls it forwards with 500 until a new leader is elected
    (`rpc error ...` while it still dials the dead leader, then `No cluster leader`)."""
    seconds, answer = rng.uniform(0.5, 6.0), rng.choice(ELECTION_ANSWERS)

    def act() -> None:
        world.consul.election(world.loop.now, world.lasting(seconds), answer)

    return act, f"Consul holds an election for {seconds:.2f} s (500 {answer[:40]})"


def vault_restart(world: World, rng: random.Random) -> Fault:
    host = rng.choice(sorted(world.vaults))
    return lambda: world.vaults[host].restart(world.loop.now), f"the Vault on {host} restarts"


def partial_unseal(world: World, rng: random.Random) -> Fault:
    host, valid = rng.choice(sorted(world.vaults)), rng.random() < 0.5
    share = rng.choice(world.vaults[host].shares) if valid else f"{rng.getrandbits(128):032x}"

    def act() -> None:
        world.vaults[host].unseal(world.loop.now, share)

    return act, f"someone else gives the Vault on {host} one {'valid' if valid else 'wrong'} share"


def vault_cluster_restart(world: World, rng: random.Random) -> Fault:
    """Every Vault restarts at once: the first comes back sealed, the others say `initialized: false` until the first
    is unsealed (they join through it)."""

    def act() -> None:
        first, *others = world.vaults.values()
        for vault in world.vaults.values():
            vault.restart(world.loop.now)
        for vault in others:
            vault.joined_through = first

    return act, "the whole Vault cluster restarts"


def vault_garbage(world: World, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(world.vaults)), rng.uniform(1.0, 14.0)

    def act() -> None:
        world.vaults[host].garbage_until = world.loop.now + world.lasting(seconds)

    return act, f"the Vault on {host} answers 503 null for {seconds:.2f} s"


def vault_hang(world: World, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(world.vaults)), rng.uniform(1.0, 6.0)

    def act() -> None:
        world.vaults[host].hung_until = world.loop.now + world.lasting(seconds)

    return act, f"the Vault on {host} hangs for {seconds:.2f} s"


def label(world: World, rng: random.Random) -> Fault:
    position, value = rng.randrange(MANAGERS + WORKERS), str(rng.choice((2, 4, 8, 16)))

    def act() -> None:
        world.docker.label(world.loop.now, position, "io.neon.compute.cores", value)
        for instance in world.instances:  # each instance's NodeEvents relays the event to its SwarmWatcher
            instance.send_to("node-events", "swarm-watcher", NodeChanged("update", world.docker.nodes[position]["ID"]))

    return act, f"node {position + 1} labelled io.neon.compute.cores={value}"


def role_change(world: World, rng: random.Random) -> Fault:
    """A worker is promoted, or a manager (not the first: the Swarm keeps one) demoted."""
    position = rng.randrange(1, MANAGERS + WORKERS)

    def act() -> None:
        node = world.docker.nodes[position]
        role = "worker" if node["Spec"]["Role"] == "manager" else "manager"
        world.docker.set_role(world.loop.now, position, role)
        world.listed_at.pop(node["Description"]["Hostname"], None)  # watched once a listing shows it
        for instance in world.instances:
            instance.send_to("node-events", "swarm-watcher", NodeChanged("update", node["ID"]))

    name = world.docker.nodes[position]["Description"]["Hostname"]
    return act, f"{name} promoted or demoted"


def settings_change(world: World, rng: random.Random) -> Fault:
    """The poll intervals change in Consul (each instance's SettingsWatcher tells the new settings)."""
    node_poll, vault_poll = rng.choice((2.0, 4.0)), rng.choice((2.0, 4.0))

    def act() -> None:
        world.node_poll, world.vault_poll = node_poll, vault_poll
        world.longest_vault_poll = max(world.longest_vault_poll, vault_poll)
        settings = Settings(node_poll, vault_poll, TEMPLATE)
        for instance in world.instances:
            instance.send_to("consul-watch", "settings", SettingsChanged(settings))

    return act, f"the settings change: node polls every {node_poll:g} s, Vault polls every {vault_poll:g} s"


def docker_hang(world: World, rng: random.Random) -> Fault:
    seconds = rng.uniform(1.0, 8.0)

    def act() -> None:
        world.docker.hung_until = world.loop.now + world.lasting(seconds)

    return act, f"dockerd hangs for {seconds:.2f} s"


def drop(world: World, rng: random.Random) -> Fault:
    instance, name, seconds = rng.choice(world.instances), rng.choice(DROP_TARGETS), rng.uniform(0.5, 3.0)

    def act() -> None:
        world.drops.append((instance.name, name, world.loop.now + seconds))

    return act, f"messages to {instance.name}/{name} dropped for {seconds:.2f} s"


DROP_TARGETS = ("definition-publisher", "unsealer", "vault-fleet")
FAULT_KINDS: tuple[Callable[[World, random.Random], Fault], ...] = (
    crash,
    crash,
    crash_together,
    crash_loop,
    pause,
    consul_outage,
    consul_refusing,
    consul_restart,
    agent_restart,
    deregister_check,
    session_destroyed,
    consul_election,
    vault_restart,
    vault_restart,
    vault_cluster_restart,
    partial_unseal,
    vault_garbage,
    vault_hang,
    label,
    label,
    role_change,
    settings_change,
    docker_hang,
    drop,
)

KIND_NAMES = tuple(sorted({kind.__name__ for kind in FAULT_KINDS}))


def swarm_kinds(seed: int) -> frozenset[str]:
    return swarm.kinds_on(seed, KIND_NAMES)


def liveness_bound(world: World) -> float:
    """How long after FAULTS_END the service must have converged (liveness mode), from the sim's timeouts, polls and
    backoffs, as a chain of waits that can follow one another:

    1. CONSUL_TIMEOUT (10 s): a call a hang held when the faults stopped is answered by its client's timeout (the
       longest: Consul's and Docker's 10 s; the lock's 1 s, Vault's 5 s). Everything else a fault started is over
       within it: a crash loop ends at FAULTS_END, a pending restart fires within the longest backoff (4 s), a
       container whose health turned red restarts 3 s later.
    2. CHECK_TTL + STANDBY_SECONDS + 1 s (4.5 s): the lock. A holder that stopped passing (its Consul calls failed)
       loses it when its check expires, and a standby takes it at its next step; 1 s for the lock's own calls.
    3. 3 x the longest Vault poll: unsealing. A monitor whose request was lost (a crashed or restarted Unsealer, a
       dropped message, a switch read that hung) asks again only two polls after it asked (UNSEAL_ANSWER_SECONDS),
       and sees the Vault unsealed at the poll after; a raft follower's background unseal (1.5 s at most) is
       within the follower wait (3 s < a poll). The definition needs less: the next listing (one node poll, at
       most 4 s) once the lock is held.
    4. With a bad share among the credentials: 2 x (threshold + 1) Vault polls more, as check_converged allows
       (each refused combination costs a poll, for the first node and then for the followers that join it).

    With the default 3 s polls: 10 + 4.5 + 9 = 23.5 s (26.5 s when a settings change made a poll 4 s).
    """
    poll = world.longest_vault_poll
    bound = DOCKER_TIMEOUT + CHECK_TTL + STANDBY_STEP + 1.0 + 3 * poll
    if world.bad_share:
        bound += 2 * (THRESHOLD + 1) * poll
    return bound


def settle(world: World) -> float:
    """Liveness mode: converged this long (two Vault polls and the check's TTL) counts as converged for good."""
    return 2 * world.longest_vault_poll + CHECK_TTL
