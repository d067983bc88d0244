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
from messages.swarm import NodeChanged, NodesObserved
from messages.vault import VaultObserved, VaultState
from neon_cm import monitoring
from neon_cm.decider import CancelTimer, Log, StartTimer
from neon_cm.encoding import encode_definition
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY
from neon_cm.supervision import Supervision
from sim import judge as j
from sim import swarm
from sim.consul import ELECTION_ANSWERS, CheckFlavour, Reply, SimConsul
from sim.coverage import Coverage
from sim.docker import SimDocker
from sim.gateways import Call, Crashed, HungConsul, SimCrash, Violation
from sim.instance import TEMPLATE, Instance, wire
from sim.loop import Loop
from sim.observe import ServerWatch
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
            vault = RecordedVault(host, shares, THRESHOLD, follower, self)
            if rng.random() < 0.4:
                vault.sealed, vault.sealed_since = False, None
            self.vaults[host] = vault
        self.history = j.History()
        """What the servers received and accepted and what the instances said: what the invariants judge."""
        self.judge: j.Judge | None = None
        """Judges each record as it is recorded (made when the run starts: a scenario may change the world first)."""
        self.recorder = Recorder(self)
        self.sending: str | None = None
        """The instance whose request a server is applying now (None: someone else's, e.g. a fault's)."""
        self.listed_at: dict[str, float] = {}
        """Since when an instance's listing has shown each node as a manager (after its last role change)."""
        for host in self.docker.managers():
            self.note(j.RoleChanged(0.0, host, manager=True))
            self.listed_at[host] = 0.0
            self.note(j.Listed(0.0, host))
        self.base_version = 0
        self.base: dict[str, Any] = {}
        self.setup_publishes()
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
            for hook in self.share_hooks:
                hook(instance, call.share)

        def arrive() -> None:
            now = self.loop.now
            if self.hung(call.server, now):
                hung = call.hung.outcome() if isinstance(call.hung, HungConsul) else call.hung
                instance.at(sent + call.timeout, lambda: on_answer(hung))
                return
            self.sending = instance.name  # a Vault records who sent what it receives (RecordedVault)
            try:
                answer = call.apply(now)
            except SimCrash as error:  # an old behaviour's client library raising on an answer
                answer = Crashed(str(error))
            finally:
                self.sending = None
            if now < instance.paused_until:
                instance.at(now, lambda: on_answer(answer))
            else:
                on_answer(answer)  # the way back is part of the one latency drawn: one step, not two

        self.loop.at(sent + self.latency(), arrive)

    def dropping(self, instance: Instance, actor: str) -> bool:
        now = self.loop.now
        return any(name == instance.name and target == actor and now < until for name, target, until in self.drops)

    def record(self, instance: str, actor: str, event: Any, effects: Any) -> None:
        if actor in LIFE_CHANGERS or (isinstance(event, str) and event.startswith(("CRASH", "STOP"))):
            self.recorder.dirty.add(instance)
        self.trace.append((self.loop.now, instance, actor, event, effects))
        self.digest.update(f"{self.loop.now!r} {instance} {actor} {event!r} {effects!r}\n".encode())
        owner = next((one for one in getattr(self, "instances", ()) if one.name == instance), None)
        deciding = owner.actors.get(actor) if owner is not None else None
        self.coverage.saw(actor, event, effects, deciding.state if deciding is not None else None)

    # ------------------------------------------------------------------ the history, and its judge

    def note(self, record: j.Record) -> None:
        """Record `record` (after the lock's changes until now) and judge it: a finding fails the seed."""
        self.recorder.lock()
        self.add(record)

    def add(self, record: j.Record) -> None:
        self.history.append(record)
        if self.judge is not None:
            self.verdict(self.judge.feed(record))

    @staticmethod
    def verdict(findings: list[j.Finding]) -> None:
        if findings:
            raise Violation(findings[0].invariant, findings[0].text)

    def bounds(self) -> j.Bounds:
        return j.Bounds(
            check_ttl=CHECK_TTL,
            vault_poll=VAULT_POLL,
            report_margin=REPORT_MARGIN,
            restart=RESTART_BOUND,
            node_poll=NODE_POLL,
            reminder=monitoring.REMINDER_SECONDS,
            unsealable=self.unsealable,
            docker_timeout=DOCKER_TIMEOUT,
            follow_margin=FOLLOW_MARGIN,
            every=CHECK_EVERY,
        )

    def after_step(self) -> None:
        self.recorder.step()

    # ------------------------------------------------------------------ what the shells tell

    def check_effect(self, instance: Instance, actor: str, effect: Any) -> None:
        """No secret: no share in any log line or effect (judged live: it is about the effects, not the history)."""
        if isinstance(effect, (StartTimer, CancelTimer)):
            return
        text = f"{effect.text} {effect.error or ''}" if isinstance(effect, Log) else repr(effect)
        for secret in self.secrets:
            if secret in text:
                raise Violation("no secret", f"{instance.name}/{actor}: an unseal share in {short(effect)}")

    def logged(self, instance: Instance, actor: str, effect: Log) -> None:
        if effect.level is Level.ERROR and actor.startswith("vault-monitor:"):
            self.note(j.ErrorLogged(self.loop.now, instance.name, actor.removeprefix("vault-monitor:")))
        if effect.level is Level.ERROR and actor == "unsealer" and KEYS_REFUSED in effect.text:
            self.note(j.KeysRefused(self.loop.now, instance.name, effect.text.split(":")[0]))

    @property
    def keys_refused(self) -> list[tuple[float, str, str]]:
        """(when, instance, node) of every ERROR saying the keys do not unseal a Vault."""
        return [(record.t, record.instance, record.vault) for record in self.history.of(j.KeysRefused)]

    def lease_told(self, instance: Instance, message: Any) -> None:
        """The lease's deadline as its Leadership told it (BecameLeader, LeaseExtended)."""
        if isinstance(message, (BecameLeader, LeaseExtended)):
            self.note(j.LeaseTold(self.loop.now, instance.name, message.session, message.valid_until))

    def own_docker_fault(self, instance: str, now: float) -> str | None:
        """How `instance`'s own Docker fails at `now` (`hangs`, `refuses`), or None."""
        own = self.own_docker.get(instance)
        return own[0] if own is not None and now >= own[1] else None

    def observed(self, instance: Instance, reading: VaultObserved) -> None:
        """A monitor's reading: once it sees its Vault unsealed, its instance's report of a problem is over."""
        if reading.state is VaultState.UNSEALED:
            self.note(j.SeenUnsealed(self.loop.now, instance.name, reading.hostname))

    def listed(self, observed: NodesObserved) -> None:
        for node in observed.nodes:
            host = node.hostname.lower()
            if node.role == "manager" and host not in self.listed_at:
                self.listed_at[host] = self.loop.now
                self.note(j.Listed(self.loop.now, host))

    def restarted(self, instance: Instance, actor: Any) -> None:
        """An actor restarted: recorded by the Recorder (ActorRestarted) at the end of the step."""

    def disturbed(self, instance: Instance) -> None:
        """`instance`'s container restarts (every actor starts again from nothing)."""
        self.note(j.ContainerRestarted(self.loop.now, instance.name))

    def definition_written(self, now: float, owner: str) -> None:
        """Consul accepted a definition write of `owner`'s: recorded with the lock holder of that moment."""
        self.note(j.Written(now, owner, self.consul.holder(now), DEFINITION_KEY))

    def vault_received(self, host: str, reset: bool) -> None:
        """The Vault on `host` received an unseal share (or a reset) from the instance whose call it applies."""
        kind = j.ResetReceived if reset else j.ShareReceived
        self.note(kind(self.loop.now, host, self.sending))

    # ------------------------------------------------------------------ the judge's look at the clock

    def schedule_checks(self) -> None:
        def check() -> None:
            for host in self.docker.managers():  # a Vault unsealing in the background settles when looked at
                self.vaults[host].settle(self.loop.now)
            self.recorder.step(everything=True)
            if self.judge is not None:
                self.verdict(self.judge.look(self.loop.now))
            self.loop.after(CHECK_EVERY, check)  # for the whole run, an extended one too (run_until stops it)

        self.loop.at(CHECK_EVERY, check)

    def check_converged(self) -> None:
        """Converges (sim/judge.py Judge.finish): the definition in Consul is the Swarm's on cluster setup's latest
        base, and every manager's Vault is unsealed when the credentials hold `threshold` valid shares. With a bad
        share among them, the Vaults have 2 x (threshold + 1) polls more (see run): each combination Vault refuses
        costs a poll, with one bad share a valid combination is at most threshold + 1 tries away (the first
        refused, then one leaving out each of its shares in turn; two when the credentials hold twice the
        threshold), and after a whole-cluster restart the followers try theirs once the first node is unsealed
        (they join through it)."""
        now = self.loop.now
        for vault in self.vaults.values():
            vault.settle(now)
        self.recorder.step(everything=True)
        if self.judge is not None:
            self.verdict(self.judge.finish(now))

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
        self.note(j.BaseWritten(now, self.base))
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
            self.recorder.start()
            self.judge = j.Judge(self.bounds())
            for record in self.history:
                self.verdict(self.judge.feed(record))
            if self.liveness:
                self.run_liveness()
            self.loop.run_until(self.end, self.after_step)
            try:
                self.check_converged()
            except Violation as violation:
                if not (violation.text.endswith("still sealed") and self.bad_share):
                    raise
                # Each combination Vault refuses costs a poll: with one bad share, up to threshold + 1 of them, for
                # the first node and then again for the followers that join through it (a whole-cluster restart).
                self.end += 2 * (THRESHOLD + 1) * self.longest_vault_poll
                self.loop.run_until(self.end, self.after_step)
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
        self.loop.run_until(FAULTS_END, self.after_step)
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
            self.loop.run_until(self.loop.now + LIVENESS_STEP, self.after_step)
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


# --------------------------------------------------------------------------- recording the history


class RecordedVault(SimVault):
    """A simulated Vault that tells the world of every unseal request it receives (its request log)."""

    def __init__(
        self, hostname: str, shares: tuple[str, ...], threshold: int, follower_delay: float, world: World
    ) -> None:
        super().__init__(hostname, shares, threshold, follower_delay)
        self.world = world

    def unseal(self, now: float, share: str | None, reset: bool = False) -> Reply:
        if self.answers(now):
            self.world.vault_received(self.hostname, reset or share is None)
        self.world.recorder.vaults_touched = True
        return super().unseal(now, share, reset)


#: The actors whose steps can start, stop or restart actors, or change what health or the fleet says (a step of
#: another actor can only die: CRASH, STOP); `--`: a fault, or a container restarting.
LIFE_CHANGERS = frozenset({"--", "service", "vault", "definition", "vault-monitors", "vault-fleet"})


class Recorder:
    """Records into the world's History what the simulated servers' and instances' state says happened since the
    last step: the lock's changes (SimConsul's lock events), actors dying, (re)starting and removed, restarts their
    supervisors scheduled, health naming an actor, the monitors a fleet wants, Vaults sealed, unsealed and
    unreadable, the Swarm's nodes and the definition Consul holds. (Written, shares and resets as received, leases
    told, ERROR lines, listings and faults are recorded where they happen.)"""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock_seen = 0
        self.lock_session: dict[str, str] = {}
        self.actors: dict[str, dict[str, tuple[Any, bool]]] = {}
        self.scheduled: dict[str, dict[str, float]] = {}
        self.gave_up: dict[str, int] = {}
        self.wanted: dict[str, tuple[Any, bool, tuple[str, ...]]] = {}
        self.vaults: dict[str, tuple[bool, float]] = {}
        self.servers = ServerWatch()
        self.paused: dict[str, float] = {}
        self.dirty: set[str] = set()
        self.own_docker: set[tuple[str, float, float | None]] = set()
        self.vaults_touched = False
        """An unseal request reached a Vault since the last look (faults mark `--` dirty; a Vault unsealing in
        the background is seen at the next look at the clock)."""
        """The instances that took a step (an actor decided, died or started; `--`: a fault) since the last look:
        only theirs can have changed."""

    def start(self) -> None:
        """The world as the run starts (after a scenario changed it)."""
        self.step(everything=True)

    def lock(self) -> None:
        """The lock's changes since the last look (a TTL check that expired by now loses its lock at its deadline)."""
        world = self.world
        consul = world.consul
        consul.expire(world.loop.now)
        events = consul.lock_events
        while self.lock_seen < len(events):
            event = events[self.lock_seen]
            self.lock_seen += 1
            if event.acquired:
                entry = consul.kv.get(LEADER_KEY)
                session = entry.session if entry is not None and entry.session is not None else "?"
                self.lock_session[event.owner] = session
                world.add(j.LockAcquired(event.time, event.owner, session))
            else:
                world.add(j.LockLost(event.time, event.owner, self.lock_session.get(event.owner, "?"), event.cause))

    def step(self, everything: bool = False) -> None:
        world = self.world
        now = world.loop.now
        dirty, self.dirty = self.dirty, set()
        for instance in world.instances:
            if instance.paused_until > self.paused.get(instance.name, 0.0):
                self.paused[instance.name] = instance.paused_until
                world.note(j.Paused(instance.paused_from, instance.name, instance.paused_until))
            if everything or "--" in dirty or instance.name in dirty:
                self.step_instance(instance, now)
        if everything or "--" in dirty or self.vaults_touched:
            self.vaults_touched = False
            self.step_vaults(now)
        if "--" in dirty or everything:
            for name, (_, since) in sorted(world.own_docker.items()):
                if (name, since, world.follow_from) not in self.own_docker:
                    self.own_docker.add((name, since, world.follow_from))
                    world.note(j.OwnDockerFails(since, name, world.follow_from))
        for record in self.servers.changes(now, world.docker, world.consul):
            world.note(record)

    def step_vaults(self, now: float) -> None:
        world = self.world
        for host, vault in world.vaults.items():
            sealed = vault.sealed and not (vault.unsealing_at is not None and now >= vault.unsealing_at)
            unreadable = max(vault.garbage_until, vault.hung_until)
            before = self.vaults.get(host)
            if before is None or before[0] != sealed:
                world.note(j.Sealed(now, host) if sealed else j.Unsealed(now, host))
            if unreadable > 0.0 and (before is None or before[1] != unreadable):
                world.note(j.Unreadable(now, host, unreadable))
            self.vaults[host] = (sealed, unreadable)

    def step_instance(self, instance: Instance, now: float) -> None:
        world, name = self.world, instance.name
        seen = self.actors.setdefault(name, {})
        current = instance.actors
        for actor_name in [key for key in seen if key not in current]:
            if seen[actor_name][1]:
                world.note(j.ActorDied(now, name, actor_name, self.supervisors(instance, actor_name)))
            world.note(j.ActorRemoved(now, name, actor_name))
            del seen[actor_name]
        for actor_name, actor in current.items():
            before = seen.get(actor_name)
            if before is None or before[0] is not actor:
                if before is not None and before[1]:
                    world.note(j.ActorDied(now, name, actor_name, self.supervisors(instance, actor_name)))
                kind = j.ActorStarted if before is None else j.ActorRestarted
                world.note(kind(now, name, actor_name))
                if not actor.alive:
                    world.note(j.ActorDied(now, name, actor_name, self.supervisors(instance, actor_name)))
            elif before[1] and not actor.alive:
                world.note(j.ActorDied(now, name, actor_name, self.supervisors(instance, actor_name)))
            seen[actor_name] = (actor, actor.alive)
        # restarts the supervisors decided and wait on
        due: dict[str, float] = {}
        for supervisor in current.values():
            if supervisor.alive and isinstance(supervisor.state, Supervision):
                for key, timer in supervisor.state.pending.items():
                    if timer in supervisor.timers:
                        due[instance.name_of(key)] = supervisor.timer_set.get(timer, now)
        scheduled = self.scheduled.get(name, {})
        for actor_name, at in due.items():
            if scheduled.get(actor_name) != at:
                world.note(j.RestartScheduled(at, name, actor_name))
        for actor_name in scheduled:
            if actor_name not in due:
                world.note(j.RestartCancelled(now, name, actor_name))
        self.scheduled[name] = due
        # health
        told = self.gave_up.get(name, 0)
        if len(instance.gave_up) < told:
            told = 0  # the container restarted
        for actor_name in instance.gave_up[told:]:
            world.note(j.HealthNamed(now, name, actor_name))
        self.gave_up[name] = len(instance.gave_up)
        # the monitors the running fleet wants
        fleet = current.get("vault-fleet")
        state, alive = (fleet.state, fleet.alive) if fleet is not None else (None, False)
        last = self.wanted.get(name)
        if last is None or last[0] is not state or last[1] != alive:
            wanted = tuple(fleet.state.hostnames()) if fleet is not None and alive else ()
            if last is None or last[2] != wanted:
                world.note(j.MonitorsWanted(now, name, wanted))
            self.wanted[name] = (state, alive, wanted)

    @staticmethod
    def supervisors(instance: Instance, name: str) -> tuple[str, ...]:
        chain: list[str] = []
        current = instance.parent.get(name)
        while current is not None and current not in chain:
            chain.append(current)
            current = instance.parent.get(current)
        return tuple(chain)


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
        instance.pause(seconds)  # recorded (Paused) by the Recorder
        world.loop.at(instance.paused_until, instance.resumed)

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
        host = node["Description"]["Hostname"]
        world.listed_at.pop(host, None)  # watched once a listing shows it
        world.note(j.RoleChanged(world.loop.now, host, manager=role == "manager"))
        for instance in world.instances:
            instance.send_to("node-events", "swarm-watcher", NodeChanged("update", node["ID"]))

    name = world.docker.nodes[position]["Description"]["Hostname"]
    return act, f"{name} promoted or demoted"


def settings_change(world: World, rng: random.Random) -> Fault:
    """The poll intervals change in Consul (each instance's SettingsWatcher tells the new settings)."""
    node_poll, vault_poll = rng.choice((2.0, 4.0)), rng.choice((2.0, 4.0))

    def act() -> None:
        world.node_poll, world.vault_poll = node_poll, vault_poll
        world.note(j.PollsSet(world.loop.now, node_poll, vault_poll))
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
