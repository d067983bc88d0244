"""The simulated world that runs the code that ships: each instance is the REAL service (sim/service.py: neon_cm_main's
tree and actors on sim/runtime.py), whose real gateways reach the simulated Consul, Vaults and Docker through the
simulated transports (sim/transport.py), installed through the one seam of gateways/transport.py. Judged by
sim/judge.py from a History recorded from what the servers received and the services logged.

`Cluster(seed).run()` is one seed; `random.Random(seed)` (and generators named after it) its only nondeterminism.

What the History is made of, and where each record comes from:
- ShareReceived / ResetReceived: each Vault link's `Received` (note `share`, `reset`), at the moment the Vault
  received it, with the sending instance (the link's owner);
- Written: each Consul transaction Consul accepted (note `written`), with SimConsul's lock holder at that moment;
- LockAcquired / LockLost: SimConsul's lock events (with the session the lock key held), drained at each request
  the servers receive and at each step of the driver;
- LeaseTold: what the Leadership actor published (BecameLeader, LeaseExtended: the log does not say the deadline),
  observed by wrapping `Leadership.publish` for the length of a run (the message is passed on unchanged);
- ErrorLogged / SeenUnsealed / KeysRefused: the log entries of each instance (a monitor's `Vault on <host> (...)
  is <state>` at ERROR, its `is unsealed` line, the Unsealer's keys-refused ERROR);
- Paused / ContainerRestarted: the faults; Sealed / Unsealed / Unreadable / RoleChanged / Listed / SwarmChanged /
  DefinitionStored / BaseWritten / PollsSet: the simulated servers' state and cluster setup.

Not yet recorded (so not judged here): actor deaths and restarts (the supervisors' lines), health, the monitors a
fleet wants: the invariant `nothing dead unseen` is left out of this world's judge for now.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import tempfile
import time
import traceback
import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import attrs

import actors.leadership
from actors.leadership import Leadership
from gateways import transport
from messages.leadership import BecameLeader, LeaseExtended
from messages.log import Level, LogEntry
from neon_cm import monitoring
from neon_cm.encoding import encode_definition
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY, SETTINGS_PREFIX
from neon_cm_main import LOCK_REQUEST_TIMEOUT
from sim import judge as j
from sim import swarm
from sim.consul import ELECTION_ANSWERS, CheckFlavour, SimConsul
from sim.docker import SimDocker
from sim.http import HttpAnswer, HttpRequest, Reach, text_answer
from sim.observe import ServerWatch
from sim.runtime import SimRuntime
from sim.service import SimService
from sim.transport import Clock, Latencies, Link, Received, SimAdapter, sim_sockets
from sim.vault import SimVault

FAULTS_END = 12.0
END = 45.0
"""Longer than the old model's 28 s: the real clients' timeouts (10 s for Consul and Docker) are in it."""
STEP = 0.1
"""The driver's step: log entries and the servers' state are read (and judged) this often."""
CHECK_EVERY = 0.5
NODE_POLL, VAULT_POLL = 3.0, 3.0
CHECK_TTL = 3.0
RESTART_BOUND = 5.0
REPORT_MARGIN = CHECK_TTL + 1.5
TAKEOVER = 2 * LOCK_REQUEST_TIMEOUT + 0.5 + 3 * LOCK_REQUEST_TIMEOUT + 1.5
"""A free lock is taken within this once Consul answers as it should: a call in flight at the lock's client's
timeouts, the standby's next step (0.5 s), its three calls (pass, renew or a new session, acquire; latency tails up
to the client's timeout) and 1.5 s to spare."""
THRESHOLD, SHARES = 3, 5
ALL_ROTATED = 0.05
"""How often every share of the credentials is rotated away (as in sim/world.py)."""
MANAGERS, WORKERS = 3, 2
TEMPLATE = "http://{hostname}:8200"
CONSUL_ADDR = "sim-consul:8500"
DOCKER_HOST = "tcp://sim-docker:2375"
KEYS_REFUSED = "the unseal keys do not unseal this Vault"
VAULT_LINE = re.compile(r"^Vault on (\S+) \(")
NO_BUSY_LOOP = "no busy loop"
BUSY = 50
"""The most times an instance sends one request in a second."""
NO_CRASH = "no actor crashes"
#: The invariants this world judges (nothing dead unseen needs the actors' lives: not recorded yet).
INVARIANTS = tuple(name for name in j.INVARIANTS if name != j.NOTHING_DEAD_UNSEEN)


class Violation(Exception):
    def __init__(self, invariant: str, text: str) -> None:
        super().__init__(f"{invariant}: {text}")
        self.invariant = invariant
        self.text = text


@attrs.frozen
class Result:
    seed: int
    ok: bool
    invariant: str = ""
    text: str = ""
    trace: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    trace_hash: str = ""
    reached: frozenset[str] = frozenset()
    kinds_on: frozenset[str] = frozenset()
    steps: int = 0

    def report(self, lines: int = 60) -> str:
        out = [f"seed {self.seed}: {'ok' if self.ok else 'FAILED'} ({self.steps} runtime steps)"]
        out += [f"  fault {fault}" for fault in self.faults]
        if not self.ok:
            out += ["  last lines:", *(f"    {line}" for line in self.trace[-lines:])]
            out.append(f"  invariant violated: {self.invariant}: {self.text}")
            out.append(f"  replay: python -m sim --seed {self.seed}")
        return "\n".join(out)


class Nowhere:
    """A server no instance should reach (a Vault URL naming no node): connections refused."""

    def __init__(self) -> None:
        self.watchers: list[Callable[[], None]] = []

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer:
        return text_answer(404, "nothing here")

    def reach(self, now: float) -> Reach:
        return Reach.REFUSED

    def next_change(self, now: float) -> float | None:
        return None


class Heard(list[Received]):
    """A link's history that tells the world of each request as the server receives it."""

    def __init__(self, told: Callable[[Received], None]) -> None:
        super().__init__()
        self.told = told

    def append(self, received: Received) -> None:
        super().append(received)
        self.told(received)


class Transports:
    """The factory installed in gateways/transport.py for a run: a Link from the calling instance (the runtime's
    current owner) to the server the URL names."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.count = 0
        self.links: list[Link] = []

    def link(self, server: Any, name: str) -> Link:
        cluster = self.cluster
        owner = cluster.sim.owner()
        sender = str(owner) if owner is not None else "world"
        self.count += 1
        rng = random.Random(f"{cluster.seed} link {self.count} {sender} {name}")
        made = Link(server, cast(Clock, cluster.sim), rng, sender, name, Heard(cluster.received), cluster.latencies)
        self.links.append(made)
        return made

    def adapter_for(self, server: str, base_url: str) -> SimAdapter | None:
        if server == "consul":
            return SimAdapter(self.link(self.cluster.consul, "consul"))
        host = (urllib.parse.urlsplit(base_url).hostname or "").lower()
        vault = self.cluster.vaults.get(host)
        return SimAdapter(self.link(vault if vault is not None else Nowhere(), f"vault:{host}"))

    def sockets_for(self, server: str, host: str) -> transport.SocketMaker | None:
        return sim_sockets(self.link(self.cluster.docker, "docker"))


class Cluster:
    """The servers, two or three real instances, the faults a seed chooses, and the judge."""

    def __init__(self, seed: int, swarm_testing: bool = True, trace_lines: int = 200) -> None:
        self.seed = seed
        self.rng = rng = random.Random(seed)
        self.sim = SimRuntime(seed)
        self.kinds_on = swarm.kinds_on(seed, KIND_NAMES) if swarm_testing else frozenset(KIND_NAMES)
        self.latencies = Latencies.with_tails(rng.choice((0.0, 0.01, 0.03)))
        self.consul = SimConsul(rng.choice(list(CheckFlavour)))
        self.consul.rng = random.Random(f"{seed} consul")
        self.docker = SimDocker(MANAGERS, WORKERS)
        shares = tuple(f"{rng.getrandbits(128):032x}" for _ in range(SHARES))
        self.credentials = tuple(rng.sample(shares, rng.choice((3, 3, 4, 5))))
        self.bad_credentials(shares)
        self.vaults: dict[str, SimVault] = {}
        for number, node in enumerate(self.docker.nodes):
            host = node["Description"]["Hostname"]
            vault = SimVault(host, shares, THRESHOLD, 0.0 if number == 0 else rng.choice((0.0, 0.0, 0.5, 1.5)))
            if rng.random() < 0.4:
                vault.sealed, vault.sealed_since = False, None
            self.vaults[host] = vault
        self.trace_lines = trace_lines
        self.trace: list[tuple[float, str]] = []
        self.history = j.History()
        self.pending: list[j.Record] = []
        self.judge = j.Judge(self.bounds(), INVARIANTS)
        self.findings: list[j.Finding] = []
        self.reached: set[str] = set()
        self.faults: list[str] = []
        self.lock_seen = 0
        self.lock_session: dict[str, str] = {}
        self.seen_entries: dict[str, int] = {}
        self.vault_state: dict[str, tuple[bool, float]] = {}
        self.servers = ServerWatch()
        self.base_version = 0
        self.longest_vault_poll = VAULT_POLL
        self.health = tempfile.TemporaryDirectory(prefix="neon-cm-sim-")
        self.transports = Transports(self)
        count = rng.choice((2, 2, 3))
        self.services = [SimService(self.sim, f"i{n + 1}", self.env(), self.health.name) for n in range(count)]
        self.starts = {service.name: rng.uniform(0.0, 0.3) for service in self.services}
        self.restarting: set[str] = set()
        self.snapshots: list[Any] = []
        self.recent: dict[tuple[str, str, str, str], list[float]] = {}
        self.busy: list[str] = []

    # ------------------------------------------------------------------ set-up

    def bad_credentials(self, shares: tuple[str, ...]) -> None:
        """As in the old world (sim/world.py), from a generator of its own so that the other draws stay as they were:
        in 30 % of the seeds a share of another cluster (or one rotated away) among the operator's, at a random place
        (the Unsealer tries other combinations: a refused one costs a Vault poll, so the run is longer); in 5 % every
        share rotated away (nothing unseals; the keys-refused ERROR and the reporting of Vaults that stay sealed)."""
        trouble = random.Random(f"{self.seed} credentials")
        credentials = list(self.credentials)
        if trouble.random() < 0.3:
            credentials.insert(trouble.randrange(len(credentials) + 1), f"{trouble.getrandbits(128):032x}")
        if trouble.random() < ALL_ROTATED:
            credentials = [f"{trouble.getrandbits(128):032x}" for _ in credentials]
        self.credentials = tuple(credentials)
        self.unsealable = sum(share in shares for share in credentials) >= THRESHOLD
        bad_share = any(share not in shares for share in credentials)
        # Each combination Vault refuses costs a poll (4 s at the longest): with one bad share, up to threshold + 1 of
        # them, for the first node and again for the followers that join through it (a whole-cluster restart). A seed
        # still sealed at END goes on until then (as in the old world).
        self.end = END + (2 * (THRESHOLD + 1) * 4.0 if bad_share and self.unsealable else 0.0)

    def env(self) -> dict[str, str]:
        document = {"UnsealKeys": list(self.credentials), "KeyThreshold": THRESHOLD}
        return {
            "CONSUL_HTTP_ADDR": CONSUL_ADDR,
            "DOCKER_HOST": DOCKER_HOST,
            "VAULT_CREDENTIALS": base64.b64encode(json.dumps(document).encode()).decode(),
            "LOG_LEVEL": "DEBUG",
        }

    def bounds(self) -> j.Bounds:
        return j.Bounds(
            check_ttl=CHECK_TTL,
            vault_poll=VAULT_POLL,
            report_margin=REPORT_MARGIN,
            restart=RESTART_BOUND,
            node_poll=NODE_POLL,
            reminder=monitoring.REMINDER_SECONDS,
            unsealable=self.unsealable,
            every=CHECK_EVERY,
            takeover=TAKEOVER,
        )

    def settings(self, node_poll: float, vault_poll: float) -> None:
        now = self.sim.now()
        for name, value in (("node_poll_seconds", node_poll), ("vault_poll_seconds", vault_poll)):
            self.consul.kv_put(now, SETTINGS_PREFIX + name, f"{value:g}".encode(), "operator")
        self.consul.kv_put(now, SETTINGS_PREFIX + "vault_url_template", TEMPLATE.encode(), "operator")
        self.longest_vault_poll = max(self.longest_vault_poll, vault_poll)
        self.add(j.PollsSet(now, node_poll, vault_poll))

    def setup_publishes(self) -> None:
        """Cluster setup writes a base definition (at start, and again after Consul lost its data)."""
        now = self.sim.now()
        if self.consul.no_leader(now) is not None or not self.consul.reachable(now):
            self.sim.schedule(now + 0.5, self.setup_publishes)
            return
        self.base_version += 1
        base = {"Name": f"cluster-{self.seed}", "Setup": self.base_version, "Nodes": {}}
        value, hash_ = encode_definition(base)
        self.consul.kv_put(now, DEFINITION_KEY, value, "setup")
        self.consul.kv_put(now, HASH_KEY, hash_.encode(), "setup")
        self.add(j.BaseWritten(now, base))
        self.say(now, "--", f"cluster setup publishes base {self.base_version}")

    # ------------------------------------------------------------------ recording

    def say(self, t: float, who: str, text: str) -> None:
        self.trace.append((t, f"{t:9.4f} {who:>6} {text}"))

    def add(self, record: j.Record) -> None:
        self.pending.append(record)

    def received(self, received: Received) -> None:
        """A server received a request (called as it does, on the sender's task)."""
        now = received.time
        self.drain_locks()
        self.calm(received)
        self.say(
            now,
            received.sender,
            f"-> {received.server} {received.method} {received.path} {received.status}"
            + (f" {received.note}" if received.note else ""),
        )
        if received.server.startswith("vault:") and received.note in ("share", "reset"):
            host = received.server.removeprefix("vault:")
            kind = j.ShareReceived if received.note == "share" else j.ResetReceived
            self.add(kind(now, host, received.sender))
            self.reached.add(f"vault {received.note} received")
        elif received.server == "consul" and received.note == "written":
            self.add(j.Written(now, received.sender, self.consul.holder(now), DEFINITION_KEY))
            self.reached.add("definition written")

    def calm(self, received: Received) -> None:
        """No busy loop: no instance sends one request more than BUSY times within a second (the watches wait,
        the polls are seconds apart, a failing call backs off)."""
        key = (received.sender, received.server, received.method, received.path)
        times = self.recent.setdefault(key, [])
        times.append(received.time)
        while times and times[0] < received.time - 1.0:
            times.pop(0)
        if len(times) > BUSY:
            self.busy.append(
                f"{received.sender} sent {received.method} {received.path} to {received.server} {len(times)} times "
                f"within a second (at {received.time:.3f})"
            )
            times.clear()

    def drain_locks(self) -> None:
        consul = self.consul
        consul.expire(self.sim.now())
        events = consul.lock_events
        while self.lock_seen < len(events):
            event = events[self.lock_seen]
            self.lock_seen += 1
            if event.acquired:
                entry = consul.kv.get(LEADER_KEY)
                session = entry.session if entry is not None and entry.session is not None else "?"
                self.lock_session[event.owner] = session
                self.add(j.LockAcquired(event.time, event.owner, session))
                self.reached.add("lock acquired")
            else:
                self.add(j.LockLost(event.time, event.owner, self.lock_session.get(event.owner, "?"), event.cause))
                self.reached.add(f"lock lost{': ' + event.cause if event.cause else ''}")

    def lease_told(self, message: Any) -> None:
        if isinstance(message, (BecameLeader, LeaseExtended)):
            owner = self.sim.owner()
            self.add(j.LeaseTold(self.sim.now(), str(owner), message.session, message.valid_until))

    def read_logs(self) -> None:
        for service in self.services:
            entries = service.entries
            seen = self.seen_entries.get(service.name, 0)
            if len(entries) < seen:
                seen = 0
            for entry in entries[seen:]:
                self.logged(service.name, entry)
            self.seen_entries[service.name] = len(entries)

    def logged(self, instance: str, entry: LogEntry) -> None:
        t = entry.timestamp - self.sim.wall() + self.sim.now()
        text = " ".join(part for part in (entry.message, entry.exception_text or "", entry.traceback or "") if part)
        for secret in self.credentials:
            if secret in text:
                raise Violation("no secret", f"{instance}/{entry.component}: an unseal share in a log entry")
        self.say(t, instance, f"{entry.level.name:<5} {entry.component}: {entry.message}")
        matched = VAULT_LINE.match(entry.message)
        if matched is not None and entry.component.startswith("vault-monitor"):
            host = matched.group(1).lower()
            if entry.level is Level.ERROR:
                self.add(j.ErrorLogged(t, instance, host))
                self.reached.add("sealed Vault reported")
            elif " is unsealed" in entry.message:
                self.add(j.SeenUnsealed(t, instance, host))
        if entry.level is Level.ERROR and KEYS_REFUSED in entry.message:
            self.add(j.KeysRefused(t, instance, entry.message.split(":")[0]))
        if " crashed (" in entry.message or entry.level is Level.FATAL:
            # Nothing the servers or the network can do makes an actor crash (the gateways never raise): only the
            # faults' kills stop a process here, and those leave no line.
            raise Violation(NO_CRASH, f"{instance}: {entry.component}: {entry.message}")

    def look_at_servers(self) -> None:
        now = self.sim.now()
        self.drain_locks()
        for host, vault in self.vaults.items():
            vault.settle(now)
            sealed = vault.sealed and not (vault.unsealing_at is not None and now >= vault.unsealing_at)
            unreadable = max(vault.garbage_until, vault.hung_until, vault.nested_until)
            before = self.vault_state.get(host)
            if before is None or before[0] != sealed:
                self.add(j.Sealed(now, host) if sealed else j.Unsealed(now, host))
            if unreadable > 0.0 and (before is None or before[1] != unreadable):
                self.add(j.Unreadable(now, host, unreadable))
            self.vault_state[host] = (sealed, unreadable)
        for record in self.servers.changes(now, self.docker, self.consul):
            self.add(record)
        consul = self.consul
        if (
            not consul.reachable(now)
            or now < consul.refusing_until
            or consul.no_leader(now) is not None
            or not consul.serf_passing
            or consul.index_header is not None
        ):
            self.add(j.ConsulTroubled(now))

    def run_to(self, end: float) -> list[j.Finding]:
        """Run (judging as it goes) until `end`; what `converges` finds then."""
        while self.sim.now() < end - 1e-9:
            self.sim.run_until(round(self.sim.now() + STEP, 6))
            self.step()
        self.add(self.standing())
        self.judge_pending()
        return self.judge.finish(self.sim.now())

    def standing(self) -> j.StandingReady:
        """Who runs, who holds a session of its own in Consul, who holds the lock: read from the servers at the end."""
        now = self.sim.now()
        holder = self.consul.holder(now)  # expires what is due first
        running = tuple(s.name for s in self.services if s.running and not self.sim.paused(s.name))
        sessions = {session.owner for session in self.consul.sessions.values()}
        return j.StandingReady(now, running, tuple(sorted(sessions)), holder)

    def judge_pending(self) -> None:
        if self.busy:
            raise Violation(NO_BUSY_LOOP, self.busy[0])
        pending, self.pending = sorted(self.pending, key=lambda record: record.t), []
        for record in pending:
            self.history.append(record)
            self.verdict(self.judge.feed(record))

    @staticmethod
    def verdict(findings: list[j.Finding]) -> None:
        if findings:
            raise Violation(findings[0].invariant, findings[0].text)

    def step(self) -> None:
        """After each STEP of the runtime: what the services logged and the servers hold, judged."""
        self.read_logs()
        self.look_at_servers()
        self.judge_pending()
        now = self.sim.now()
        if round(now / CHECK_EVERY, 6).is_integer():
            self.verdict(self.judge.look(now))

    # ------------------------------------------------------------------ faults

    def schedule_faults(self) -> None:
        rng = self.rng
        kinds = [kind for kind in FAULT_KINDS if kind.__name__ in self.kinds_on]
        for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 6))):
            when = rng.uniform(0.5, FAULTS_END)
            kind = rng.choice(kinds)
            action, text = kind(self, rng)
            self.faults.append(f"{when:7.3f} {text}")
            self.sim.schedule(when, self.fault(action, text, kind.__name__))
        self.faults.sort()

    def fault(self, action: Callable[[], object], text: str, kind: str) -> Callable[[], None]:
        def act() -> None:
            self.say(self.sim.now(), "FAULT", text)
            self.reached.add(f"fault: {kind}")
            action()

        return act

    def lasting(self, seconds: float) -> float:
        return max(0.0, min(seconds, FAULTS_END - self.sim.now()))

    def restart_later(self, service: SimService, delay: float) -> None:
        self.restarting.add(service.name)

        def start() -> None:
            self.restarting.discard(service.name)
            self.add(j.ContainerRestarted(self.sim.now(), service.name))
            service.start()

        self.sim.schedule(self.sim.now() + delay, start)

    # ------------------------------------------------------------------ the run

    def run(self) -> Result:
        saved_publish = Leadership.publish
        cluster = self

        def publish(actor: Leadership, message: Any) -> None:
            cluster.lease_told(message)
            saved_publish(actor, message)

        names = random.Random(f"{self.seed} names")

        def instance_name() -> str:  # host:pid:tag, as the service names itself; the same from the same seed
            return f"{cluster.sim.owner()}:1:{names.getrandbits(16):04x}"

        saved_name = actors.leadership.instance_name
        actors.leadership.instance_name = instance_name
        saved_seconds = monitoring.UNSEAL_ANSWER_SECONDS
        previous = transport.install(self.transports)
        setattr(Leadership, "publish", publish)  # noqa: B010 -- observing, see the module's docstring
        monitoring.UNSEAL_ANSWER_SECONDS = 2 * VAULT_POLL
        self.sim.__enter__()
        try:
            self.settings(NODE_POLL, VAULT_POLL)
            self.setup_publishes()
            for host in self.docker.managers():
                self.add(j.RoleChanged(0.0, host, manager=True))
                self.add(j.Listed(0.0, host))
            self.say(0.0, "--", f"fault kinds on: {', '.join(sorted(self.kinds_on))}")
            self.schedule_faults()
            rolling_update(self)
            for service in self.services:
                self.sim.schedule(self.starts[service.name], service.start)
            findings = self.run_to(END)
            if self.end > END and findings and findings[0].text.endswith("still sealed"):
                findings = self.run_to(self.end)  # a bad share's combinations: each refused one costs a poll
            self.verdict(findings)
        except Violation as violation:
            return self.result(violation.invariant, violation.text)
        except Exception as error:  # noqa: BLE001 -- the service (or the sim) raised where nothing should
            return self.result("nothing raises", "".join(traceback.format_exception(error)[-6:]))
        finally:
            for service in self.services:
                if service.running:
                    service.kill()
            self.sim.__exit__(None, None, None)
            setattr(Leadership, "publish", saved_publish)  # noqa: B010
            actors.leadership.instance_name = saved_name
            monitoring.UNSEAL_ANSWER_SECONDS = saved_seconds
            transport.install(previous)
            self.health.cleanup()
        return self.result("", "")

    def trace_digest(self) -> str:
        digest = hashlib.sha256(self.sim.trace_hash().encode())
        for _, line in sorted(self.trace, key=lambda item: item[0]):
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()

    def result(self, invariant: str, text: str) -> Result:
        lines = tuple(line for _, line in sorted(self.trace, key=lambda item: item[0]))
        return Result(
            self.seed,
            not invariant,
            invariant,
            text,
            lines if invariant or self.trace_lines > 10**6 else (),
            tuple(self.faults),
            self.trace_digest(),
            frozenset(self.reached),
            self.kinds_on,
            len(self.sim.trace or ()),
        )


def run_seed(seed: int, swarm_testing: bool = True) -> Result:
    return Cluster(seed, swarm_testing).run()


#: What a sweep must have reached in some seed ("sometimes" assertions), besides every fault kind firing: read from
#: the requests the servers received, the lock's events and the services' log lines.
SOMETIMES = (
    "lock acquired",
    "lock lost",
    "lock lost: its session was destroyed",
    "lock lost: the agent left the cluster (serfHealth critical)",
    "lock lost: a snapshot was restored",
    "lock lost: Consul restarted without its data",
    "definition written",
    "vault share received",
    "vault reset received",
    "sealed Vault reported",
)


def coverage_table(reached: Counter[str], seeds: int, kinds_on: Counter[str]) -> tuple[str, list[str]]:
    """The coverage table of a sweep of the cluster world, and the items never reached."""
    lines = [f"coverage of {seeds} seeds (seeds reaching each; fault kinds: seeds with the kind on | fired):"]
    missing: list[str] = []
    for kind in KIND_NAMES:
        item = f"fault: {kind}"
        mark = "  " if reached[item] else "!!"
        missing += [] if reached[item] else [item]
        lines.append(f"  {mark} {item:<60} {kinds_on[kind]:>7} | {reached[item]:>7}")
    for item in SOMETIMES:
        mark = "  " if reached[item] else "!!"
        missing += [] if reached[item] else [item]
        lines.append(f"  {mark} {item:<60} {'':>7}   {reached[item]:>7}")
    others = sorted(item for item in reached if item not in SOMETIMES and not item.startswith("fault: "))
    lines += [f"     {item:<60} {'':>7}   {reached[item]:>7}" for item in others]
    return "\n".join(lines), missing


# --------------------------------------------------------------------------- fault kinds: (action, description)

Fault = tuple[Callable[[], object], str]


def crash(cluster: Cluster, rng: random.Random) -> Fault:
    """SIGKILL of an instance; Docker starts its container again after a while."""
    service, delay = rng.choice(cluster.services), rng.uniform(0.5, 4.0)

    def act() -> None:
        if service.running and service.name not in cluster.restarting:
            service.kill()
            cluster.restart_later(service, delay)

    return act, f"{service.name} killed, started again {delay:.2f} s later"


def pause(cluster: Cluster, rng: random.Random) -> Fault:
    service, seconds = rng.choice(cluster.services), rng.uniform(3.5, 6.0)

    def act() -> None:
        now = cluster.sim.now()
        service.pause(seconds)
        cluster.add(j.Paused(now, service.name, now + seconds))

    return act, f"pause {service.name} for {seconds:.2f} s"


def consul_outage(cluster: Cluster, rng: random.Random) -> Fault:
    seconds, hung = rng.uniform(0.5, 14.0), rng.random() < 0.5
    return (
        lambda: cluster.consul.outage(cluster.sim.now(), cluster.lasting(seconds), hung),
        f"Consul {'hung' if hung else 'refusing connections'} for {seconds:.2f} s",
    )


def consul_refusing(cluster: Cluster, rng: random.Random) -> Fault:
    seconds = rng.uniform(0.5, 5.0)

    def act() -> None:
        cluster.consul.refusing_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"Consul refuses the service's token (403) for {seconds:.2f} s"


def consul_restart(cluster: Cluster, rng: random.Random) -> Fault:
    keep, seconds, setup = rng.random() < 0.5, rng.uniform(0.3, 2.0), rng.uniform(0.2, 3.0)

    def act() -> None:
        now = cluster.sim.now()
        cluster.consul.restart(now, seconds, keep)
        if not keep:
            cluster.sim.schedule(now + seconds + setup, restore_after_loss(cluster))

    return act, f"Consul restarts {'with' if keep else 'without'} its data, down {seconds:.2f} s"


def restore_after_loss(cluster: Cluster) -> Callable[[], None]:
    """After Consul lost its data, cluster setup writes the base again and the operator's settings."""

    def act() -> None:
        now = cluster.sim.now()
        if not cluster.consul.reachable(now):
            cluster.sim.schedule(now + 0.5, act)
            return
        last = cluster.history.of(j.PollsSet) + [r for r in cluster.pending if isinstance(r, j.PollsSet)]
        node_poll, vault_poll = (last[-1].node_poll, last[-1].vault_poll) if last else (NODE_POLL, VAULT_POLL)
        cluster.settings(node_poll, vault_poll)
        cluster.setup_publishes()

    return act


def agent_restart(cluster: Cluster, rng: random.Random) -> Fault:
    lose, seconds = rng.random() < 0.5, rng.uniform(0.2, 1.5)
    return (
        lambda: cluster.consul.agent_restart(cluster.sim.now(), seconds, lose),
        f"the Consul agent restarts{' losing its checks' if lose else ''}, down {seconds:.2f} s",
    )


def deregister_check(cluster: Cluster, rng: random.Random) -> Fault:
    pick = rng.random()

    def act() -> None:
        checks = sorted(cluster.consul.checks)
        if checks:
            check = checks[int(pick * len(checks))]
            cluster.consul.check_deregister(cluster.sim.now(), check, "deregistered by a peer")

    return act, "an instance's check deregistered"


def session_destroyed(cluster: Cluster, rng: random.Random) -> Fault:
    def act() -> None:
        entry = cluster.consul.kv.get(LEADER_KEY)
        if entry is not None and entry.session is not None:
            cluster.consul.session_destroy(cluster.sim.now(), entry.session)

    return act, "the lock holder's session destroyed (its check still passing)"


def agent_leave(cluster: Cluster, rng: random.Random) -> Fault:
    seconds = rng.uniform(1.0, 6.0)

    def act() -> None:
        now = cluster.sim.now()
        cluster.consul.agent_leave(now)
        cluster.sim.schedule(now + cluster.lasting(seconds), lambda: cluster.consul.agent_join(cluster.sim.now()))

    return act, f"the Consul agent leaves the cluster (serfHealth critical) for {seconds:.2f} s"


def snapshot_restore(cluster: Cluster, rng: random.Random) -> Fault:
    ago = rng.uniform(1.0, 6.0)

    def act() -> None:
        now = cluster.sim.now()
        cluster.snapshots.append(cluster.consul.snapshot())
        saved = cluster.snapshots[-1]
        cluster.sim.schedule(now + cluster.lasting(ago), lambda: cluster.consul.restore(cluster.sim.now(), saved))

    return act, f"a Consul snapshot saved, restored {ago:.2f} s later"


def consul_election(cluster: Cluster, rng: random.Random) -> Fault:
    seconds, answer = rng.uniform(0.5, 6.0), rng.choice(ELECTION_ANSWERS)
    return (
        lambda: cluster.consul.election(cluster.sim.now(), cluster.lasting(seconds), answer),
        f"Consul holds an election for {seconds:.2f} s (500 {answer[:40]})",
    )


def index_quirk(cluster: Cluster, rng: random.Random) -> Fault:
    quirk, seconds = rng.choice(("zero", "missing")), rng.uniform(1.0, 6.0)

    def act() -> None:
        cluster.consul.index_header = quirk
        # The proxy's arrival shows when a watch's query is answered: an operator's note under the settings prefix
        # (no setting of the service's) answers the held ones at once.
        now = cluster.sim.now()
        cluster.consul.kv_put(now, SETTINGS_PREFIX + "operator-note", f"proxy at {now:.3f}".encode(), "operator")
        cluster.sim.schedule(cluster.sim.now() + cluster.lasting(seconds), clear_quirk(cluster))

    return act, f"a proxy in front of Consul answers X-Consul-Index {quirk} for {seconds:.2f} s"


def clear_quirk(cluster: Cluster) -> Callable[[], None]:
    def act() -> None:
        cluster.consul.index_header = None

    return act


def vault_restart(cluster: Cluster, rng: random.Random) -> Fault:
    host = rng.choice(sorted(cluster.vaults))
    return lambda: cluster.vaults[host].restart(cluster.sim.now()), f"the Vault on {host} restarts"


def partial_unseal(cluster: Cluster, rng: random.Random) -> Fault:
    host, valid = rng.choice(sorted(cluster.vaults)), rng.random() < 0.5
    share = rng.choice(cluster.vaults[host].shares) if valid else f"{rng.getrandbits(128):032x}"
    return (
        lambda: cluster.vaults[host].unseal(cluster.sim.now(), share),
        f"someone else gives the Vault on {host} one {'valid' if valid else 'wrong'} share",
    )


def other_reset(cluster: Cluster, rng: random.Random) -> Fault:
    host = rng.choice(sorted(cluster.vaults))
    return (
        lambda: cluster.vaults[host].unseal(cluster.sim.now(), None, reset=True),
        f"someone else resets the unseal attempt of the Vault on {host}",
    )


def vault_cluster_restart(cluster: Cluster, rng: random.Random) -> Fault:
    def act() -> None:
        first, *others = cluster.vaults.values()
        for vault in cluster.vaults.values():
            vault.restart(cluster.sim.now())
        for vault in others:
            vault.joined_through = first

    return act, "the whole Vault cluster restarts"


def vault_garbage(cluster: Cluster, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(cluster.vaults)), rng.uniform(1.0, 14.0)

    def act() -> None:
        cluster.vaults[host].garbage_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"the Vault on {host} answers 503 null for {seconds:.2f} s"


def vault_nested(cluster: Cluster, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(cluster.vaults)), rng.uniform(1.0, 8.0)

    def act() -> None:
        cluster.vaults[host].nested_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"the Vault on {host} answers JSON nested 100,000 deep for {seconds:.2f} s"


def vault_echo(cluster: Cluster, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(cluster.vaults)), rng.uniform(1.0, 8.0)

    def act() -> None:
        vault = cluster.vaults[host]
        vault.restart(cluster.sim.now())  # restarted behind a new proxy (maintenance)
        vault.echo_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"the Vault on {host} restarts behind a proxy answering 502 echoing each PUT for {seconds:.2f} s"


def vault_hang(cluster: Cluster, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(cluster.vaults)), rng.uniform(1.0, 6.0)

    def act() -> None:
        cluster.vaults[host].hung_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"the Vault on {host} hangs for {seconds:.2f} s"


def label(cluster: Cluster, rng: random.Random) -> Fault:
    position, value = rng.randrange(MANAGERS + WORKERS), str(rng.choice((2, 4, 8, 16)))
    return (
        lambda: cluster.docker.label(cluster.sim.now(), position, "io.neon.compute.cores", value),
        f"node {position + 1} labelled io.neon.compute.cores={value}",
    )


def role_change(cluster: Cluster, rng: random.Random) -> Fault:
    position = rng.randrange(1, MANAGERS + WORKERS)

    def act() -> None:
        now = cluster.sim.now()
        node = cluster.docker.nodes[position]
        role = "worker" if node["Spec"]["Role"] == "manager" else "manager"
        cluster.docker.set_role(now, position, role)
        host = node["Description"]["Hostname"]
        cluster.add(j.RoleChanged(now, host, manager=role == "manager"))
        cluster.add(j.Listed(now, host))  # the sim's listing is the Swarm's own: it shows the node at once

    return act, f"node {position + 1} promoted or demoted"


def settings_change(cluster: Cluster, rng: random.Random) -> Fault:
    node_poll, vault_poll = rng.choice((2.0, 4.0)), rng.choice((2.0, 4.0))
    return (
        lambda: cluster.settings(node_poll, vault_poll),
        f"the settings change: node polls every {node_poll:g} s, Vault polls every {vault_poll:g} s",
    )


def docker_hang(cluster: Cluster, rng: random.Random) -> Fault:
    seconds = rng.uniform(1.0, 8.0)

    def act() -> None:
        cluster.docker.hung_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"dockerd hangs for {seconds:.2f} s"


UPDATED = 0.15
"""How often a seed has a rolling update (drawn from a generator of its own: the other seeds' draws stay as they
were)."""
STOP_TIMEOUT = 10.0
"""Docker's stop timeout: a container still running this long after its SIGTERM is killed."""


def rolling_update(cluster: Cluster) -> None:
    """`docker service update`, in UPDATED of the seeds: at a moment of the first 12 s the active instance (the lock
    holder then) is told SIGTERM and stops as the service does (its Leadership tells its subscribers that it stops
    leading, waits for them, and releases the lock), is killed if it still runs STOP_TIMEOUT later, and its container
    starts again 0.5 to 4 s after it exited. Not a fault kind: the kinds' draws and swarm testing stay as they were."""
    rng = random.Random(f"{cluster.seed} update")
    if rng.random() >= UPDATED:
        return
    when, delay = rng.uniform(0.5, FAULTS_END), rng.uniform(0.5, 4.0)

    def act() -> None:
        now = cluster.sim.now()
        holder = cluster.consul.holder(now)
        service = next((s for s in cluster.services if s.name == holder), None)
        if service is None or not service.running or service.name in cluster.restarting:
            cluster.say(now, "FAULT", "a rolling update finds no active instance to stop")
            return
        cluster.say(now, "FAULT", f"a rolling update stops {service.name} (SIGTERM)")
        cluster.reached.add("rolling update (SIGTERM of the active)")
        cluster.restarting.add(service.name)
        service.terminate()
        wait(now + STOP_TIMEOUT, service)

    def wait(kill_at: float, service: SimService) -> None:
        now = cluster.sim.now()
        if service.running and now < kill_at:
            cluster.sim.schedule(now + STEP, lambda: wait(kill_at, service))
            return
        if service.running:
            service.kill()
        cluster.say(now, "FAULT", f"{service.name} exited; its container starts again {delay:.2f} s later")
        cluster.restarting.discard(service.name)
        cluster.restart_later(service, delay)

    cluster.faults.append(f"{when:7.3f} a rolling update: SIGTERM of the active instance")
    cluster.sim.schedule(when, act)


FAULT_KINDS: tuple[Callable[[Cluster, random.Random], Fault], ...] = (
    crash,
    crash,
    pause,
    consul_outage,
    consul_refusing,
    consul_restart,
    agent_restart,
    deregister_check,
    session_destroyed,
    agent_leave,
    snapshot_restore,
    consul_election,
    index_quirk,
    vault_restart,
    vault_restart,
    vault_cluster_restart,
    partial_unseal,
    other_reset,
    vault_garbage,
    vault_nested,
    vault_echo,
    vault_hang,
    label,
    label,
    role_change,
    settings_change,
    docker_hang,
)
KIND_NAMES = tuple(sorted({kind.__name__ for kind in FAULT_KINDS}))


def sweep(seeds: range, swarm_testing: bool = True) -> tuple[list[Result], float]:
    """Run `seeds`; the results and the seconds it took."""
    started = time.monotonic()
    results = [run_seed(seed, swarm_testing) for seed in seeds]
    return results, time.monotonic() - started
