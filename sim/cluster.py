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

- ActorStarted / ActorRestarted / ActorDied / ActorRemoved: the runtime, as each actor's loop starts and ends
  (SimRuntime.lives; a killed process's actors are removed), RestartScheduled (with its backoff) and HealthNamed from
  the supervisors' own lines, MonitorsWanted from each running fleet's view (sim/lives.py).

Actor faults go through the real runtime and actors: a crash raises InjectedFault in an actor's handler at its next
message (SimRuntime.fail_next_message) or in its start-up for a while (a crash loop: SimRuntime.fail_starts); pykka's
loop, the actors' failure hooks and the real supervisors (production's backoff and intensity) do the rest. Messages
are never dropped: within one process pykka's inboxes lose nothing; a message to an actor that is dead (between its
crash and its restart) is lost, which the crash faults make.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
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
from actors.base import LinkedActor
from actors.leadership import Leadership
from actors.metrics import Metrics
from cli.healthcheck import verdict
from gateways import transport
from messages.leadership import BecameLeader, LeaseExtended
from messages.log import Level, LogEntry
from neon_cm import handover, monitoring
from neon_cm.decider import Publish
from neon_cm.encoding import encode_definition
from neon_cm.fleet import Fleet
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY, SETTINGS_PREFIX
from neon_cm.lease import Acquire, Lease
from neon_cm.listing import SwarmListing
from neon_cm.monitoring import VaultMonitoring
from neon_cm.publishing import Publishing, WriteDefinition
from neon_cm.supervision import Supervision
from neon_cm.unsealing import ResetProgress, SubmitShare, Unsealing
from neon_cm_main import LOCK_REQUEST_TIMEOUT
from sim import coverage, swarm
from sim import judge as j
from sim.consul import ELECTION_ANSWERS, FRESH_INDEX, CheckFlavour, SimConsul
from sim.coverage import Coverage
from sim.docker import SimDocker
from sim.http import HttpAnswer, HttpRequest, Reach, text_answer
from sim.lives import Lives
from sim.observe import ServerWatch
from sim.runtime import SimRuntime
from sim.service import SimService
from sim.transport import Clock, Latencies, Link, Received, SimAdapter, sim_sockets
from sim.vault import SimVault

FAULTS_END = 12.0
END = 45.0
"""The real clients' timeouts (10 s for Consul and Docker) are in it."""
STEP = 0.1
"""The driver's step: log entries and the servers' state are read and judged this often, and the judge looks at its
clock invariants and at the instances' metrics at each (every 0.5 s until 2026-12-07: 8 % less CPU, and a breach shorter
than the gap between two looks could go unseen)."""
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
"""How often every share of the credentials is rotated away."""
MANAGERS, WORKERS = 3, 2
TEMPLATE = "http://{hostname}:8200"
#: How often (from a generator of its own: the other draws stay as they were) two managers share one hostname (the
#: Vault URL template then names each by its manager address: issue 26's defect 6), and how often a manager's hostname
#: is hostile, a URL's host and more (`evil.example:8200/#`: defect 8), with a server at that host catching what comes.
ONE_HOSTNAME = 0.1
HOSTILE_HOSTNAME = 0.1
ADDR_TEMPLATE = "http://{addr}:8200"
HOSTILE = "evil.example:8200/#"
OTHER_ATTEMPT = 0.1
"""How often (from a generator of its own) another client resets the first attempt under way and gives a share of its
own (wrong two times in three: an operator's typo, another cluster's key) between two of the Unsealer's shares."""
SLOW_DEMOTION = 0.1
"""How often (from a generator of its own) a manager's Vault restarts and answers slowly (2 to 2.8 s, under the Vault
client's 3 s read timeout) for a while, and the manager is demoted while its monitors' probes are held."""
CUT_HOLDER = 0.1
"""How often (from a generator of its own) a manager's Vault answers slowly for a while and the instance that gives it
a share then is cut off Consul: its lease ends while its unseal attempt is under way."""
STOPPED_MID = 0.1
"""How often (from a generator of its own) a manager's Vault is slow to take a connection for a while and the instance
that gives it a share then stops leading while its next share's connection is being made: its Leadership crashes, or
it is told SIGTERM (its lock released at once either way, a standby takes it within 0.5 s)."""
STOP_ON_WIRE = 0.05
"""How often (from a generator of its own) a manager's Vault is slow to take a request in for a while and the instance
that gives it a share then stops leading while its next share, written already, is still coming in: the lock may be
given up only once that share is answered (the gate, actors/under_lock.py)."""
LATE_AT_DEADLINE = 0.1
"""How often (from a generator of its own) a manager's Vault answers slowly for a while, the instance that gives it a
share then is cut off Consul, and its Unsealer's thread gets no CPU around its lease's deadline."""
STANDBY_STOPS = 0.1
"""How often (from a generator of its own) a standby is told SIGTERM while its host is slow (its stop held up before it
reaches Leadership), in half of those seeds with the active instance at the same moment."""
RELOCK_STOP = 0.05
"""How often (from a generator of its own) the active instance's lease runs out with a share still coming in to a slow
Vault and its lock still held, and it is told SIGTERM at its next pass or as its step takes the lock again: the lock may
be freed only once that share is answered."""
STOPPING_TAKES_NOTHING = "a stopping instance takes no lock"
SAYS_ACTIVE = "says active only within its lease"
ACTIVE_LAG = 2 * LOCK_REQUEST_TIMEOUT + STEP
"""How long past its lease's deadline an instance's `neon_cm_active` may still say 1: its Leadership handles the
deadline's timer once the Consul call it blocks on is over (the lock client's connect and read timeouts: a call answered
after the deadline steps down at once, one answered before it starts the next before it), and a look every STEP."""
RETIRED_GRACE = 0.01
RETIRED_SILENT = "a retired monitor says nothing"
FLEET_STOPPED = re.compile(r"^no longer monitoring the Vault on (.+) \(\S+\)$")
FLEET_STARTED = re.compile(r"^monitoring the Vault on manager (.+) at \S+$")
NO_SECRET = "no secret"
ONE_VAULT_A_SERIES = "a series names one Vault"
CONSUL_ADDR = "sim-consul:8500"
DOCKER_HOST = "tcp://sim-docker:2375"
KEYS_REFUSED = "the unseal keys do not unseal this Vault"
VAULT_LINE = re.compile(r"^Vault on .*? \(([a-z]+://[^)\s]*)\) is ")
"""A monitor's line; the host of its URL names the Vault (two managers may share a hostname, told apart by URL)."""
ESCALATION = "(standing by, but "
"""A standby's ERROR for a Vault sealed past its threshold (neon_cm/monitoring.py `report`): a report whoever holds
the lock, also when said while no lease was told."""
NO_BUSY_LOOP = "no busy loop"
BUSY = 50
"""The most times an instance sends one request in a second."""
NO_CRASH = "no actor crashes"
#: The invariants this world judges: all of sim/judge.py's.
INVARIANTS = j.INVARIANTS
INJECTED = "InjectedFault"
#: How often a share of another cluster is among the credentials (at a random place), and, from a generator of its
#: own, how often every share is rotated away (none unseals: the keys-refused ERROR's path).
#: Issue 28: how often one instance's own Docker fails (hangs or refuses) from a moment in the first 6 s until the
#: end (drawn from a generator of its own), and the bound's parts: the listing's timeout and the margin.
OWN_DOCKER_FAILS = 0.15
DOCKER_TIMEOUT = 10.0
FOLLOW_MARGIN = 3.5
FOLLOW_BOUND = 2 * (4.0 + DOCKER_TIMEOUT) + 1.5 + FOLLOW_MARGIN
"""Follows the Swarm's bound at the longest node poll the settings set (4 s): see sim/judge.py `follows_the_swarm`."""
SERIES_LAG = 2 * 4.0 + DOCKER_TIMEOUT + 1.0
"""A manager's series is named anew within this of a change of the Swarm: two node polls at the longest interval, a
listing's timeout, 1 s for the fleet and Metrics."""
#: A crash loop lasts up to this: past the 31 s production's supervisor needs to give up (its sixth crash within
#: 60 s, backoff 1 s doubling); the run lasts until it ended + AFTER_LOOP.
LOOP_SECONDS = (5.0, 15.0)
LONG_LOOP_SECONDS = (32.0, 40.0)
LOOP_RESTART = 16.0
"""The longest a looping actor waits, after its loop ended, for its supervisor's next restart (the fifth backoff)."""
AFTER_LOOP = 30.0
#: How often a seed has, besides its faults, a long crash loop (drawn from a generator of its own): long enough for
#: a supervisor to give up (escalate, or the top supervisor leaving the actor stopped: health red).
LONG_LOOP = 0.1
#: Docker's HEALTHCHECK (Dockerfile; deploy/neon-cluster-manager.yml states it again): `neon-cluster-manager health`
#: every HEALTH_INTERVAL from the container's start; a failure counts once a probe passed or the start period is over;
#: HEALTH_RETRIES failures in a row and the container is unhealthy: Swarm replaces the task, which starts
#: TASK_RESTART_DELAY later (the stack's restart_policy delay).
HEALTH_INTERVAL, HEALTH_START_PERIOD, HEALTH_RETRIES = 30.0, 60.0, 3
TASK_RESTART_DELAY = 5.0
#: How often a seed has, besides its faults (from a generator of its own), the lock holder's Leadership crashing while
#: every other instance is paused (their hosts frozen): the holder takes the lock again at its Leadership's restart, on
#: a new session, and a node is labelled after (the definition to write on the new session: issue 17's defect 3).
LEADER_ALONE = 0.08
#: The label values of that node change: no other fault sets them, so the Swarm changes.
ALONE_CORES = ("3", "6", "12")
#: Latency tails stop this long before the run's end (Cluster.tails_now): a call begun before may still take up to
#: 1.3 x its timeout (13 s for the publisher's); without tails a lock step, a read and a write take about a second.
#: (20 s left out the tail by which seed 10856 catches `late-read-drops-listing`: 10 to 15 s keep it.)
QUIET_END = 15.0
#: How often a seed has, after its faults (from a generator of its own, and only without a long crash loop or an own
#: Docker failing), the lock holder's SwarmWatcher dying as it starts for HOLDER_LOOP_SECONDS, from a moment of
#: HOLDER_LOOP_FROM (the other faults over and their effects settled), and a node labelled 2-4 s later: the holder
#: counts the deaths as failed listings, or its watcher dead 5 s with no listing as unfit (its restart may wait out a
#: longer backoff after earlier crashes: seeds 1719, 1867 of d52477d), and hands the lock to a standby that can list,
#: which publishes the label within HOLDER_LOOP_BOUND of it: those 5 s, the holder's step (1 s), a standby's (0.5 s),
#: Consul's latency tails on the lock's calls and the write (2 s), the margin.
HOLDER_LOOP = 0.05
HOLDER_LOOP_FROM = (FAULTS_END + DOCKER_TIMEOUT + 2.0, FAULTS_END + DOCKER_TIMEOUT + 6.0)
HOLDER_LOOP_SECONDS = (15.0, 20.0)
HOLDER_LOOP_BOUND = handover.DEAD_UNFIT_SECONDS + 1.0 + 0.5 + 2.0 + FOLLOW_MARGIN
#: How often a seed has, besides its faults (from a generator of its own), Consul rebuilt: it loses its data and starts
#: again as a new cluster does, from the index the first one started at, and cluster setup runs again at once (the same
#: writes in the same order: the same indexes as the first time, for another base); a node is labelled after.
REBUILT = 0.08
#: The supervisors' restart intensity the service must keep (actors/supervisor.py's default, docs/design-supervision.md:
#: 5 restarts in 60 s), the sim's own reading of it: judged by "a crash loop is given up on".
INTENSITY = (5, 60.0)
#: Liveness mode: how often convergence is looked at after FAULTS_END; converged this long counts as for good.
LIVENESS_STEP = 0.5


class InjectedFault(Exception):
    """What a crash fault raises inside a real actor's handler or start-up (a bug, as far as the service can tell)."""


class Poke:
    """A message to an actor that a fault made crash at its next message (SimRuntime.fail_next_message): now."""


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
    converged_after: float | None = None
    """Liveness mode: seconds from FAULTS_END until the service converged for good."""

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


class Catcher(SimVault):
    """A server at a host that is no Vault of the cluster (a hostile hostname's): it answers any GET as a sealed Vault's
    seal status and takes any PUT as an unseal (the URL's path may be cut off by a `#` or a `?` in the hostname)."""

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer:
        path = "/v1/sys/seal-status" if request.method == "GET" else "/v1/sys/unseal"
        return super().handle(attrs.evolve(request, path=path), now)


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
        made.tails = cluster.tails_now
        self.links.append(made)
        return made

    def adapter_for(self, server: str, base_url: str) -> SimAdapter | None:
        if server == "consul":
            return SimAdapter(self.link(self.cluster.consul, "consul"))
        host = (urllib.parse.urlsplit(base_url).hostname or "").lower()
        vault = self.cluster.vaults.get(host) or self.cluster.strangers.get(host)
        return SimAdapter(self.link(vault if vault is not None else Nowhere(), f"vault:{host}"))

    def sockets_for(self, server: str, host: str) -> transport.SocketMaker | None:
        owner = self.cluster.sim.owner()
        return sim_sockets(self.link(OwnDocker(self.cluster, str(owner)), "docker"))


class OwnDocker:
    """The Docker daemon an instance reaches: its own manager's, the Swarm's (SimDocker) as every manager's, except
    that it hangs or refuses from the moment the instance's own Docker fails (issue 28)."""

    def __init__(self, cluster: Cluster, instance: str) -> None:
        self.cluster = cluster
        self.instance = instance
        self.docker = cluster.docker

    @property
    def watchers(self) -> list[Callable[[], None]]:
        return self.docker.watchers

    def failing(self, now: float) -> str | None:
        own = self.cluster.own_docker.get(self.instance)
        return own[0] if own is not None and now >= own[1] else None

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer:
        return self.docker.handle(request, now)

    def reach(self, now: float) -> Reach:
        failing = self.failing(now)
        if failing == "hangs":
            return Reach.HUNG
        if failing == "refuses":
            return Reach.REFUSED
        return self.docker.reach(now)

    def next_change(self, now: float) -> float | None:
        return self.docker.next_change(now)


@attrs.define
class HealthCheck:
    """Docker's health check of one start of a container: the probes made, the failing streak, whether one passed."""

    started_at: float
    probes: int = 0
    streak: int = 0
    passed: bool = False

    @property
    def next_at(self) -> float:
        return self.started_at + (self.probes + 1) * HEALTH_INTERVAL


class Cluster:
    """The servers, two or three real instances, the faults a seed chooses, and the judge."""

    def __init__(
        self,
        seed: int,
        swarm_testing: bool = True,
        trace_lines: int = 200,
        liveness: bool = False,
        scenario: Callable[[Cluster], None] | None = None,
    ) -> None:
        self.seed = seed
        self.scenario = scenario
        """A test's own faults, scheduled in place of every fault the seed draws (its servers and credentials stay the
        seed's): called once the base is published, before the instances start."""
        self.liveness = liveness
        """Faults stop at FAULTS_END (no crash loop past it, no own-Docker failure) and the service must converge
        within liveness_bound() and stay so; the time it took is in the result."""
        self.converged_since: float | None = None
        self.rng = rng = random.Random(seed)
        self.sim = SimRuntime(seed)
        self.kinds_on = swarm.kinds_on(seed, KIND_NAMES) if swarm_testing else frozenset(KIND_NAMES)
        self.latencies = Latencies.with_tails(rng.choice((0.0, 0.01, 0.03)))
        self.consul = SimConsul(rng.choice(list(CheckFlavour)))
        self.consul.rng = random.Random(f"{seed} consul")
        self.consul.sync_rng = random.Random(f"{seed} consul anti-entropy")
        self.docker = SimDocker(MANAGERS, WORKERS)
        shares = tuple(f"{rng.getrandbits(128):032x}" for _ in range(SHARES))
        self.credentials = tuple(rng.sample(shares, rng.choice((3, 3, 4, 5))))
        self.shares = shares
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
        self.seen_entries: dict[str, tuple[object, int]] = {}
        """Per instance: the log sink read last (one per start of its process) and how many of its entries."""
        self.vault_state: dict[str, tuple[bool, float, float]] = {}
        """Per Vault, at the last look: whether it was sealed, until when unreadable, and since when sealed (0: not)."""
        self.servers = ServerWatch()
        self.base_version = 0
        self.longest_vault_poll = VAULT_POLL
        self.health = tempfile.TemporaryDirectory(prefix="neon-cm-sim-", dir=HEALTH_DIR_BASE)
        self.transports = Transports(self)
        count = rng.choice((2, 2, 3))
        self.services = [SimService(self.sim, f"i{n + 1}", self.env(), self.health.name) for n in range(count)]
        self.starts = {service.name: rng.uniform(0.0, 0.3) for service in self.services}
        self.restarting: set[str] = set()
        self.can_lead: tuple[str, ...] | None = None
        """The instances last told the judge as able to take the lock (j.CanLead)."""
        self.snapshots: list[Any] = []
        self.recent: dict[tuple[str, str, str, str], list[float]] = {}
        self.busy: list[str] = []
        self.lives = Lives()
        self.coverage = Coverage()
        self.until = END
        """When the run ends: later with a crash loop lasting past the faults, or one instance's own Docker failing (a
        bad share's combinations may add `end - END` to it)."""
        self.own_docker: dict[str, tuple[str, float]] = {}
        """Per instance: how its own Docker fails (`hangs`, `refuses`) and from when (until the end)."""
        self.own_docker_fails = False
        """Whether one instance's own Docker fails in this seed (drawn before any fault acts)."""
        self.long_loop = False
        """Whether this seed has a crash loop long enough for its supervisor to give up (schedule_long_loop)."""
        self.crash_loops: list[float] = []
        """When each crash loop ends."""
        self.armed_resets: list[None] = []
        """Resets by another client waiting for the next share a Vault receives."""
        self.backup: Any = None
        """Consul's snapshot as cluster setup left it, before the instances started."""
        self.base: dict[str, Any] = {}
        self.backup_base: dict[str, Any] = {}
        self.health_checks: dict[str, HealthCheck] = {}
        """Per instance: Docker's health check of its container's last start."""
        self.template = TEMPLATE
        self.by_addr = False
        """The Vaults are known by their node's address (the template is {addr}), not by hostname."""
        self.strangers: dict[str, SimVault] = {}
        """Servers at a host that is no Vault of the cluster (a hostile hostname's): no share may reach one."""
        self.leaks: list[str] = []
        self.odd_hostnames(random.Random(f"{seed} manager hostnames"))
        self.armed_attempts: list[str] = []
        """Shares another client gives, after resetting, to the next Vault that has an attempt under way."""
        self.other_attempt(random.Random(f"{seed} another client attempt"))
        self.retired: dict[tuple[str, str], float] = {}
        """Per (instance, monitored name): when its fleet said it no longer monitors that Vault."""
        self.slow_demotion(random.Random(f"{seed} late probe"))
        self.cut_armed: list[tuple[SimVault, float, tuple[float, float, float]]] = []
        """A Vault, how long the instance that gives it a share next is cut off Consul, and how slow the Vault is from
        that share on (its answer, a connection, a request coming in)."""
        if not liveness:
            self.cut_holder(random.Random(f"{seed} holder partition"))
        self.stop_armed: list[tuple[SimVault, float, float, bool, float, float]] = []
        """A Vault, how much slower it takes a connection from the share it is given next, how long after that share
        the instance that gave it stops leading, whether by SIGTERM (else its Leadership crashes), (SIGTERM) when its
        container starts again, and (a crash) how long its Unsealer's thread gets no CPU from then."""
        if not liveness:
            self.stop_mid_attempt(random.Random(f"{seed} holder stops mid-attempt"))
        self.wire_armed: list[tuple[SimVault, float, float, bool, float, float]] = []
        """A Vault, how much slower it takes a request in from the share it is given next, how long after that share
        the instance that gave it stops leading, whether by SIGTERM, when its container starts again, and (a crash) how
        long its Unsealer's thread gets no CPU from then."""
        if not liveness:
            self.stop_on_the_wire(random.Random(f"{seed} holder stops with a share on the wire"))
        self.late_armed: list[tuple[SimVault, float, float, float, float]] = []
        """A Vault, how slow its answers are from the share it is given next, how long the instance that gave that
        share is cut off Consul, and how long before and after that instance's lease deadline its Unsealer's thread is
        late."""
        self.last_lease: dict[str, float] = {}
        """Per instance: the lease deadline its Leadership told last."""
        if not liveness:
            self.late_at_deadline(random.Random(f"{seed} unsealer late at its deadline"))
        self.stop_breaches: list[str] = []
        """What an instance told SIGTERM decided against *a stopping instance takes no lock*."""
        if not liveness:
            self.standby_stops(random.Random(f"{seed} standby stops"))
        self.relock_armed: list[tuple[SimVault, float, float, bool]] = []
        """A Vault, how long after its sender's lease deadline its next share comes in, when that sender's container
        starts again after its SIGTERM, and whether the SIGTERM comes at its first pass after the deadline (else as it
        takes the lock again)."""
        self.relock_target: tuple[str, float, float, bool] | None = None
        """The sender, its lease deadline, its container's delay and whether at its pass: told SIGTERM at its first
        pass, or as it takes the lock again, after that deadline."""
        if not liveness:
            self.relock_on_stop(random.Random(f"{seed} relock as the stop begins"))

    # ------------------------------------------------------------------ set-up

    def bad_credentials(self, shares: tuple[str, ...]) -> None:
        """From a generator of its own so that the other draws stay as they were: in 30 % of the seeds a share of
        another cluster (or one rotated away) among the operator's, at a random place (the Unsealer tries other
        combinations: a refused one costs a Vault poll, so the run is longer); in 5 % every share rotated away
        (nothing unseals; the keys-refused ERROR and the reporting of Vaults that stay sealed)."""
        trouble = random.Random(f"{self.seed} credentials")
        credentials = list(self.credentials)
        if trouble.random() < 0.3:
            credentials.insert(trouble.randrange(len(credentials) + 1), f"{trouble.getrandbits(128):032x}")
        if trouble.random() < ALL_ROTATED:
            credentials = [f"{trouble.getrandbits(128):032x}" for _ in credentials]
        self.use_credentials(tuple(credentials))

    def use_credentials(self, credentials: tuple[str, ...]) -> None:
        """The operator's shares (before the services are made: a scenario's must also go into their environments and
        the judge's bounds) and what follows from them: unsealable, a bad share among them, the run's end."""
        self.credentials = credentials
        self.unsealable = sum(share in self.shares for share in credentials) >= THRESHOLD
        self.bad_share = any(share not in self.shares for share in credentials)
        # Each combination Vault refuses costs a poll (4 s at the longest): with one bad share, up to threshold + 1 of
        # them, for the first node and again for the followers that join through it (a whole-cluster restart). A seed
        # still sealed at END goes on until then.
        self.end = END + (2 * (THRESHOLD + 1) * 4.0 if self.bad_share and self.unsealable else 0.0)

    def odd_hostnames(self, rng: random.Random) -> None:
        """In ONE_HOSTNAME of the seeds manager-3 is called manager-2 too (two machines cloned from one image), and the
        operator's template is ADDR_TEMPLATE: each Vault is known by its node's address (Vaults keyed so), two of
        them behind one hostname. In HOSTILE_HOSTNAME of the others manager-3's hostname is HOSTILE (whoever controls a
        node names it), and a server at `evil.example` answers as a sealed Vault would, catching what it is sent."""
        pick = rng.random()
        nodes = self.docker.nodes
        if pick < ONE_HOSTNAME:
            self.vaults = {node["Status"]["Addr"]: self.vaults[node["Description"]["Hostname"]] for node in nodes}
            nodes[2]["Description"]["Hostname"] = nodes[1]["Description"]["Hostname"]
            self.template, self.by_addr = ADDR_TEMPLATE, True
            self.faults.append("  0.000 manager-3 is called manager-2 too; the Vault URL template is " + ADDR_TEMPLATE)
        elif pick < ONE_HOSTNAME + HOSTILE_HOSTNAME:
            nodes[2]["Description"]["Hostname"] = HOSTILE
            host = urllib.parse.urlsplit(TEMPLATE.format(hostname=HOSTILE)).hostname or ""
            self.strangers[host] = Catcher(host, (), THRESHOLD, 0.0)
            self.faults.append(f"  0.000 manager-3's hostname is {HOSTILE!r}; a server at {host} catches what comes")

    def other_attempt(self, rng: random.Random) -> None:
        """In OTHER_ATTEMPT of the seeds, armed from the start: 0.5 ms after the first share an instance gives a Vault
        that leaves an attempt under way, another client resets that attempt and gives a share of its own, so the
        Unsealer's next share lands in another attempt (another nonce) than its own."""
        if rng.random() >= OTHER_ATTEMPT:
            return
        valid = rng.random() < 1 / 3
        share = rng.choice(self.shares) if valid else f"{rng.getrandbits(128):032x}"
        self.armed_attempts.append(share)
        self.faults.append(
            f"  0.000 someone else resets the first attempt under way and gives a {'valid' if valid else 'wrong'} "
            "share of their own (armed from the start)"
        )

    def attempt_by_another(self, vault: SimVault, share: str) -> None:
        now = self.sim.now()
        self.say(
            now, "FAULT", f"someone else resets the unseal attempt of the Vault on {vault.hostname} and gives a share"
        )
        self.reached.add("fault: other_attempt")
        vault.unseal(now, None, reset=True)
        vault.unseal(now, share)

    def slow_demotion(self, rng: random.Random) -> None:
        """In SLOW_DEMOTION of the seeds, at a moment of the first 9 s: manager-2's or manager-3's Vault restarts, and
        the answers to the requests that come in the next `slow` - 0.1 s take `slow` (2 to 2.8) s to come back (a
        monitor polls it meanwhile most of the time), then the node is demoted while they are on their way: the
        fleets retire and stop the monitors (a 3 s stop budget) and the probes' readings come after."""
        if rng.random() >= SLOW_DEMOTION:
            return
        when, position, slow = rng.uniform(1.0, 9.0), rng.choice((1, 2)), rng.uniform(2.0, 2.8)
        nodes = self.docker.nodes

        def act() -> None:
            now = self.sim.now()
            node = nodes[position]
            vault = self.vaults.get(self.vault_key(node))
            if node["Spec"]["Role"] != "manager" or vault is None:  # demoted already, or its hostname is hostile
                self.say(now, "FAULT", f"node {position + 1} is no manager with a Vault: no slow demotion")
                return
            vault.restart(now)
            vault.slow_until, vault.slow_by = now + slow - 0.1, slow
            self.say(now, "FAULT", f"the Vault on node {position + 1} restarts and answers {slow:.2f} s late")
            self.sim.schedule(now + slow - 0.05, demote)

        def demote() -> None:
            now = self.sim.now()
            node = nodes[position]
            if node["Spec"]["Role"] == "manager":
                self.docker.set_role(now, position, "worker")
                self.add(j.RoleChanged(now, self.vault_key(node), manager=False))
                self.add(j.Listed(now, self.vault_key(node)))
                self.reached.add("fault: slow_demotion")
                self.say(now, "FAULT", f"node {position + 1} demoted while its Vault answers late")

        self.faults.append(f"{when:7.3f} a manager's Vault answers {slow:.2f} s late, then the node is demoted")
        self.sim.schedule(when, act)

    def cut_holder(self, rng: random.Random) -> None:
        """In CUT_HOLDER of the seeds, at a moment of the first 5 s: a manager's Vault restarts, and from the first
        share it is given it is slow for 8 s (that share's answer too): a connection takes 1 to 1.9 s more (the Vault
        client's connect timeout: 2 s), a request 0.3 to 0.9 s more to come in (less than the lease's 1 s margin), an
        answer 1.5 to 2 s more (within the 3 s read timeout with it), so the rest of the attempt lasts seconds; the
        instance that gave the share (the active one) is cut off Consul for 5 to 7 s (a partition: every link of its
        to Consul times out). Its lease ends at its deadline, its check expires and a standby takes the lock while its
        attempt is under way: no share of it may arrive past its deadline + the margin, or after the standby took the
        lock."""
        if rng.random() >= CUT_HOLDER:
            return
        when, position = rng.uniform(1.0, 5.0), rng.choice((0, 1, 2))
        slow, cut = rng.uniform(1.5, 2.0), rng.uniform(5.0, 7.0)
        connect, receive = rng.uniform(1.0, 1.9), rng.uniform(0.3, 0.9)
        self.faults.append(
            f"{when:7.3f} a manager's Vault takes {connect:.2f} s to connect, {receive:.2f} s to take a request in and "
            f"{slow:.2f} s to answer; the instance giving it a share then is cut off Consul for {cut:.2f} s"
        )
        self.restart_armed(
            when,
            position,
            "slow attempt",
            lambda vault: self.cut_armed.append((vault, cut, (slow, connect, receive))),
            "slow from the first share it is given",
        )

    def stop_mid_attempt(self, rng: random.Random) -> None:
        """In STOPPED_MID of the seeds, at a moment of the first 5 s: a manager's Vault restarts, and from the first
        share it is given it takes 1 to 1.9 s more to take a connection, for 8 s (the Vault client's connect timeout:
        2 s); 0.05 to 0.5 s before the next share's connection is made, the instance that gave them stops leading: its
        Leadership crashes (a bug) while its Unsealer's thread gets no CPU for 0.05 to 0.6 s (an overloaded host), or
        the instance is told SIGTERM (its container starts again 0.5 to 4 s after it exited). Either way its Unsealer
        cancels the attempt before the lock is released (Leadership waits for its subscribers), and a standby takes the
        lock within 0.5 s: the share whose connection is made after that may not be written (*never two unsealers*).
        `d2-stop-without-waiting` releases the lock while the starved Unsealer has not cancelled yet."""
        if rng.random() >= STOPPED_MID:
            return
        when, position = rng.uniform(1.0, 5.0), rng.choice((0, 1, 2))
        connect, before = rng.uniform(1.0, 1.9), rng.uniform(0.05, 0.5)
        sigterm, delay, late, how = self.draw_stop(rng)
        self.faults.append(
            f"{when:7.3f} a manager's Vault takes {connect:.2f} s more to connect from its next share; {before:.2f} s "
            f"before the connection after it is made its sender {how}"
        )
        self.restart_armed(
            when,
            position,
            "stop mid-attempt",
            lambda vault: self.stop_armed.append((vault, connect, connect - before, sigterm, delay, late)),
            "slow to connect from its next share",
        )

    @staticmethod
    def draw_stop(rng: random.Random) -> tuple[bool, float, float, str]:
        """How a sender stops leading (stop_mid_attempt, stop_on_the_wire): told SIGTERM (half the time), its container
        starting again `delay` 0.5 to 4 s after it exited; else its Leadership crashes while its Unsealer's thread is
        `late` 0.05 to 0.6 s. Drawn in this order, whichever is used, so a setup's other draws stay where they were.
        Returns (sigterm, delay, late, the way said in the fault line)."""
        sigterm, delay, late = rng.random() < 0.5, rng.uniform(0.5, 4.0), rng.uniform(0.05, 0.6)
        how = "is told SIGTERM" if sigterm else f"has its Leadership crash, its Unsealer's thread late {late:.2f} s"
        return sigterm, delay, late, how

    def stop_on_the_wire(self, rng: random.Random) -> None:
        """In STOP_ON_WIRE of the seeds, at a moment of the first 5 s: a manager's Vault restarts, and from the first
        share it is given it takes 0.6 to 0.95 s more to take each request in once connected (a proxy buffering it), for
        8 s: less than the lease's 1 s margin, the time the service allows a request written before its lease's deadline
        to come in (as cut_holder; with 1.2-1.9 s, seed 452's reset, written before a deadline that Consul refusing the
        token brought, came in 0.63 s past the margin). 0.05 to 0.3 s after that share came in, the instance that gave
        it stops leading (as stop_mid_attempt: its Leadership crashes while its Unsealer's thread is late, or SIGTERM),
        its next share written and still coming in. A standby takes the lock within 0.5 s of its release: the release
        must wait until that share is answered (*never two unsealers*; `release-on-the-wire` releases at once, the long
        run's seed 4153)."""
        if rng.random() >= STOP_ON_WIRE:
            return
        when, position = rng.uniform(1.0, 5.0), rng.choice((0, 1, 2))
        receive, after = rng.uniform(0.6, 0.95), rng.uniform(0.05, 0.3)
        sigterm, delay, late, how = self.draw_stop(rng)
        self.faults.append(
            f"{when:7.3f} a manager's Vault takes {receive:.2f} s more to take a request in from its next share; "
            f"{after:.2f} s after that share its sender {how}"
        )
        self.restart_armed(
            when,
            position,
            "stop on the wire",
            lambda vault: self.wire_armed.append((vault, receive, after, sigterm, delay, late)),
            "slow to take requests in from its next share",
        )

    def late_at_deadline(self, rng: random.Random) -> None:
        """In LATE_AT_DEADLINE of the seeds, at a moment of the first 5 s: a manager's Vault restarts, and from the
        first share it is given it answers 1.5 to 2 s late for 8 s (under the Vault client's 3 s read timeout); the
        instance that gave the share (the active one) is cut off Consul for 5 to 7 s, so its lease ends at its deadline
        while its attempt is under way; and its Unsealer's thread gets no CPU from 0.05 to 0.6 s before that deadline to
        0.05 to 0.3 s after it (an overloaded host): an answer of the Vault that came meanwhile, before the deadline, is
        handled after it, before the Unsealer's lease timer. *Acts only within its lease* judges what it decides then
        (`per-share-lease-check` decides the next share)."""
        if rng.random() >= LATE_AT_DEADLINE:
            return
        when, position = rng.uniform(1.0, 5.0), rng.choice((0, 1, 2))
        slow, cut = rng.uniform(1.5, 2.0), rng.uniform(5.0, 7.0)
        before, after = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.3)
        self.faults.append(
            f"{when:7.3f} a manager's Vault answers {slow:.2f} s late from its next share; its sender is cut off "
            f"Consul for {cut:.2f} s, its Unsealer's thread late from {before:.2f} s before its lease's deadline to "
            f"{after:.2f} s after"
        )
        self.restart_armed(
            when,
            position,
            "late Unsealer",
            lambda vault: self.late_armed.append((vault, slow, cut, before, after)),
            "slow from the first share it is given",
        )

    def standby_stops(self, rng: random.Random) -> None:
        """In STANDBY_STOPS of the seeds, at a moment of 1 to 11 s, a standby is told SIGTERM (a rolling update reaches
        it) while its host is slow: its definition-publisher's thread gets no CPU for 0.5 to 2.5 s, and the stop, which
        stops that actor first, waits for it before it reaches Leadership (fourth); in half of those seeds the active
        instance is told SIGTERM at the same moment (`--update-parallelism 2`), so the lock is released within
        milliseconds while the standby's stop is held up. Each container starts again 0.5 to 4 s after it exited.
        *A stopping instance takes no lock* judges the standby's Leadership meanwhile (the long run's seed 1960: a
        stopping instance offered to take over and tried the lock, its vault side stopping)."""
        if rng.random() >= STANDBY_STOPS:
            return
        when, held, both = rng.uniform(1.0, 11.0), rng.uniform(0.5, 2.5), rng.random() < 0.5
        pick, delays = rng.random(), (rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0))
        also = " and the active instance at the same moment" if both else ""
        self.faults.append(f"{when:7.3f} a standby told SIGTERM, its stop held up {held:.2f} s{also}")

        def act() -> None:
            now = self.sim.now()
            holder = self.consul.holder(now)
            standbys = [
                s
                for s in self.services
                if s.running and s.name != holder and s.name not in self.restarting and not self.sim.paused(s.name)
            ]
            if not standbys:
                self.say(now, "FAULT", "no standby runs to be told SIGTERM")
                return
            standby = standbys[int(pick * len(standbys))]
            for actor in supervised(self, standby):
                if getattr(actor, "register_as", None) == "definition-publisher":
                    self.sim.starve(actor, held)
            self.reached.add("a standby told SIGTERM, its stop held up")
            self.say(now, "FAULT", f"{standby.name} (a standby) is told SIGTERM; its stop held up {held:.2f} s")
            self.sigterm(standby, delays[0])
            active = next((s for s in self.services if s.name == holder), None)
            if both and active is not None and active.running and active.name not in self.restarting:
                self.say(now, "FAULT", f"{active.name} (the active instance) is told SIGTERM at the same moment")
                self.sigterm(active, delays[1])

        self.sim.schedule(when, act)

    def relock_on_stop(self, rng: random.Random) -> None:
        """In RELOCK_STOP of the seeds, at a moment of the first 5 s: a manager's Vault restarts, and from the first
        share it is given, the instance that gave it (the active one) is cut off Consul until 0.05 s past its lease's
        deadline, so that lease runs out while its session, passed again at its next step, still holds the lock; the
        Vault takes that instance's next share (written already) in 0.75 to 0.95 s after the deadline, within the
        lease's 1 s margin. That instance is then told SIGTERM (a rolling update), in half of these seeds as its first
        pass after the deadline reaches Consul (its stop releases the lock it holds though no longer active: seed
        27339), in the other half as its step's request to take the lock again does (the lock won after its stop began
        is given back). A standby takes the lock within 0.5 s of its release: the release must wait until that share
        is answered (*never two unsealers*; `stop-gate-only-while-leading`, `relock-without-gate`)."""
        if rng.random() >= RELOCK_STOP:
            return
        when, position = rng.uniform(1.0, 5.0), rng.choice((0, 1, 2))
        after, delay, at_pass = rng.uniform(0.8, 0.9), rng.uniform(0.5, 4.0), rng.random() < 0.5
        moment = "at the sender's first pass after it" if at_pass else "as the sender takes the lock again"
        self.faults.append(
            f"{when:7.3f} a manager's Vault restarts; its next share's sender is cut off Consul past its lease, the "
            f"share after it coming in {after:.2f} s after that deadline; SIGTERM {moment}"
        )
        self.restart_armed(
            when,
            position,
            "relock as the stop begins",
            lambda vault: self.relock_armed.append((vault, after, delay, at_pass)),
            "its next share's sender loses its lease",
        )

    def relock_armed_share(self, vault: SimVault, sender: str, now: float) -> None:
        """The first share to the Vault of relock_on_stop came in from `sender`: cut it off Consul past its lease's
        deadline and slow the Vault so its next share comes in `after` s after that deadline."""
        _, after, delay, at_pass = self.relock_armed.pop()
        deadline = self.last_lease.get(sender, 0.0)
        if deadline <= now:
            self.say(now, "FAULT", f"{sender} holds no lease: no relock as its stop begins")
            return
        # Only a request of this sender's that the Vault begins to take in within 0.1 s is slow (the next share, written
        # as this one is answered): it comes in `after` +- 0.05 s past the deadline. Any later request, and any other
        # sender's, written before its deadline comes in within the margin, as the service assumes (a spell of 8 s, as
        # the other setups have, brought later requests in 2-3 s past their deadlines; one for every sender, seed 3514,
        # another instance's share, whose lease Consul's lost data had cut, 2.3 s past its deadline).
        vault.receive_slow[sender] = (now + 0.1, deadline - now + after - 0.05)
        self.relock_target = (sender, deadline, delay, at_pass)
        self.reached.add("fault: relock as the stop begins")
        self.sim.schedule(now, lambda: self.cut_off(sender, deadline + 0.05 - now))

    def relock_request(self, received: Received) -> None:
        """A request reached Consul: the relock_on_stop sender's first pass after its deadline, or its taking the lock
        again, is told SIGTERM now (its Leadership reads the stop before the answer)."""
        assert self.relock_target is not None
        sender, deadline, delay, at_pass = self.relock_target
        if received.sender != sender or received.method != "PUT" or received.time < deadline:
            return
        if at_pass and not received.path.startswith("/v1/agent/check/pass/"):
            return
        if not at_pass and (
            received.path != f"/v1/kv/{LEADER_KEY}" or not any(key == "acquire" for key, _ in received.query)
        ):
            return
        self.relock_target = None
        service = next((s for s in self.services if s.name == sender), None)
        if service is None or not service.running or sender in self.restarting:
            return
        moment = "at its first pass" if at_pass else "as it takes the lock again"
        self.say(received.time, "FAULT", f"{sender} is told SIGTERM {moment} past its lease")
        self.reached.add(f"fault: SIGTERM {moment} past the lease")
        self.sim.schedule(received.time, lambda: self.sigterm(service, delay))

    def sigterm(self, service: SimService, delay: float) -> None:
        """`service` is told SIGTERM and stops as the service does; killed if it still runs STOP_TIMEOUT later, its
        container starts again `delay` after it exited."""
        now = self.sim.now()
        self.restarting.add(service.name)
        self.lives.stopping.add(service.name)
        service.terminate()
        self.exited_later(service, now + STOP_TIMEOUT, delay)

    def restart_armed(self, when: float, position: int, what: str, arm: Callable[[SimVault], None], said: str) -> None:
        """At `when` the Vault of node `position` restarts and `arm` readies what a setup does from its next share
        (cut_holder, stop_mid_attempt, late_at_deadline); a node that is no manager with a Vault by then gets nothing
        (no `what`)."""
        nodes = self.docker.nodes

        def act() -> None:
            now = self.sim.now()
            node = nodes[position]
            vault = self.vaults.get(self.vault_key(node))
            if node["Spec"]["Role"] != "manager" or vault is None:
                self.say(now, "FAULT", f"node {position + 1} is no manager with a Vault: no {what}")
                return
            vault.restart(now)
            arm(vault)
            self.say(now, "FAULT", f"the Vault on node {position + 1} restarts; {said}")

        self.sim.schedule(when, act)

    def late_unsealer(self, sender: str, before: float, after: float) -> None:
        """`sender`'s Unsealer's thread gets no CPU from `before` s before the lease deadline it was told last (cut off
        Consul, it is told no later one) to `after` s after it."""
        now = self.sim.now()
        deadline = self.last_lease.get(sender, 0.0)
        start = max(now, deadline - before)
        if start > now:
            self.sim.schedule(start, lambda: self.late_unsealer(sender, before, after))
            return
        service = next((s for s in self.services if s.name == sender), None)
        if service is None or not service.running or deadline + after <= now:
            return
        for actor in supervised(self, service):
            if getattr(actor, "register_as", None) == "unsealer":
                self.sim.starve(actor, deadline + after - now)
                self.reached.add("fault: late_at_deadline")
                self.say(now, "FAULT", f"{sender}'s Unsealer's thread late until {deadline + after:.3f}")

    def stop_leading_after(self, sender: str, at: float, sigterm: bool, delay: float, late: float) -> None:
        """At `at`, the process of `sender` running now stops leading (stop_leading)."""
        started = next((s.started_at for s in self.services if s.name == sender), None)
        self.sim.schedule(at, lambda: self.stop_leading(sender, started, sigterm, delay, late))

    def stop_leading(self, sender: str, started: float | None, sigterm: bool, delay: float, late: float) -> None:
        """`sender` (the process started at `started` that gave the share) stops leading mid-attempt
        (stop_mid_attempt): SIGTERM, or a crash of its Leadership now while its Unsealer's thread gets no CPU for `late`
        s (an overloaded host: Leadership's stop waits for it)."""
        now = self.sim.now()
        service = next((s for s in self.services if s.name == sender), None)
        if service is None or not service.running or sender in self.restarting or service.started_at != started:
            self.say(now, "FAULT", f"{sender} is not the process that gave the share: it does not stop mid-attempt")
            return
        self.reached.add("fault: stop_mid_attempt")
        if sigterm:
            self.say(now, "FAULT", f"{sender} is told SIGTERM mid-attempt")
            self.restarting.add(sender)
            self.lives.stopping.add(sender)
            service.terminate()
            self.exited_later(service, now + STOP_TIMEOUT, delay)
            return
        for actor in supervised(self, service):
            if getattr(actor, "register_as", None) == "unsealer":
                self.sim.starve(actor, late)
        for actor in supervised(self, service):
            if getattr(actor, "register_as", None) == "leadership":
                self.say(
                    now, "FAULT", f"{sender}'s Leadership crashes mid-attempt; its Unsealer's thread late {late:.2f} s"
                )
                self.sim.fail_next_message(actor, InjectedFault("injected: a bug in leadership"))
                actor.actor_ref.tell(Poke())

    def exited_later(self, service: SimService, kill_at: float, delay: float) -> None:
        """Once `service` exited (killed if it still runs at `kill_at`), its container starts again `delay` later."""
        now = self.sim.now()
        if service.running and now < kill_at:
            self.sim.schedule(now + STEP, lambda: self.exited_later(service, kill_at, delay))
            return
        if service.running:
            self.kill(service)
        else:
            self.lives.killed(now, service.name)
        self.say(now, "FAULT", f"{service.name} exited; its container starts again {delay:.2f} s later")
        self.restarting.discard(service.name)
        self.restart_later(service, delay)

    def cut_off_from_consul(self, instance: str, now: float) -> bool:
        return any(
            link.sender == instance and link.name == "consul" and now < link.cut_until for link in self.transports.links
        )

    def cut_off(self, sender: str, seconds: float) -> None:
        """Every link of `sender` to Consul times out for `seconds` (a partition)."""
        now = self.sim.now()
        for link in self.transports.links:
            if link.sender == sender and link.name == "consul":
                link.cut_until = now + seconds
        self.reached.add("fault: cut_holder")
        self.say(now, "FAULT", f"{sender} is cut off Consul for {seconds:.2f} s")

    def vault_key(self, node: dict[str, Any]) -> str:
        """What the world and the judge know a node's Vault by: the host of its URL (its address under {addr})."""
        return str(node["Status"]["Addr"] if self.by_addr else node["Description"]["Hostname"])

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
            docker_timeout=DOCKER_TIMEOUT,
            follow_margin=FOLLOW_MARGIN,
            every=STEP,
            takeover=TAKEOVER,
            intensity=INTENSITY,
        )

    def settings(self, node_poll: float, vault_poll: float) -> None:
        now = self.sim.now()
        for name, value in (("node_poll_seconds", node_poll), ("vault_poll_seconds", vault_poll)):
            self.consul.kv_put(now, SETTINGS_PREFIX + name, f"{value:g}".encode(), "operator")
        self.consul.kv_put(now, SETTINGS_PREFIX + "vault_url_template", self.template.encode(), "operator")
        self.longest_vault_poll = max(self.longest_vault_poll, vault_poll)
        self.add(j.PollsSet(now, node_poll, vault_poll))

    def setup_publishes(self) -> None:
        """Cluster setup writes a base definition (at start, and again after Consul lost its data)."""
        now = self.sim.now()
        if self.consul.no_leader(now) is not None or not self.consul.reachable(now):
            self.sim.schedule(now + 0.5, self.setup_publishes)
            return
        self.base_version += 1
        self.base = base = {"Name": f"cluster-{self.seed}", "Setup": self.base_version, "Nodes": {}}
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
            vault = self.vaults.get(host)
            if received.note == "share" and self.cut_armed and self.cut_armed[0][0] is vault and vault is not None:
                _, seconds, (vault.slow_by, vault.connect_by, vault.receive_by) = self.cut_armed.pop()
                vault.slow_until = now + 8.0  # this share's answer is slow already
                self.sim.schedule(now, lambda: self.cut_off(received.sender, seconds))
            if received.note == "share" and self.late_armed and self.late_armed[0][0] is vault and vault is not None:
                _, vault.slow_by, seconds, before, after = self.late_armed.pop()
                vault.slow_until = now + 8.0
                sender = received.sender
                self.sim.schedule(now, lambda: self.cut_off(sender, seconds))
                self.sim.schedule(now + 0.1, lambda: self.late_unsealer(sender, before, after))
            for armed, slowness in ((self.stop_armed, "connect_by"), (self.wire_armed, "receive_by")):
                if received.note == "share" and armed and armed[0][0] is vault and vault is not None:
                    _, extra, after, sigterm, delay, late = armed.pop()
                    setattr(vault, slowness, extra)
                    vault.slow_until = now + 8.0
                    self.stop_leading_after(received.sender, now + after, sigterm, delay, late)
            relock = self.relock_armed
            if received.note == "share" and relock and relock[0][0] is vault and vault is not None:
                self.relock_armed_share(vault, received.sender, now)
            if received.note == "share" and self.armed_resets and vault is not None and vault.sealed and vault.attempt:
                self.armed_resets.pop()  # mid-attempt: the share was taken and more are to come
                self.sim.schedule(now + 0.0005, lambda: self.reset_by_another(vault))
            elif (
                received.note == "share"
                and self.armed_attempts
                and vault is not None
                and vault.sealed
                and vault.attempt
            ):
                share = self.armed_attempts.pop()
                self.sim.schedule(now + 0.0005, lambda: self.attempt_by_another(vault, share))
            self.reached.add(f"vault {received.note} received")
            if received.note == "share" and host in self.strangers:
                self.leaks.append(f"{received.sender} sent an unseal share to {host}, which is no Vault of the cluster")
        elif received.server == "consul" and self.relock_target is not None:
            self.relock_request(received)
        if received.server == "consul" and received.note == "written":
            self.add(j.Written(now, received.sender, self.consul.holder(now), DEFINITION_KEY))
            self.reached.add("definition written")

    def reset_by_another(self, vault: SimVault) -> None:
        self.say(self.sim.now(), "FAULT", f"someone else resets the unseal attempt of the Vault on {vault.hostname}")
        vault.unseal(self.sim.now(), None, reset=True)

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
            self.last_lease[str(owner)] = message.valid_until
            self.add(j.LeaseTold(self.sim.now(), str(owner), message.session, message.valid_until))

    def acted(self, after: Any, effects: tuple[Any, ...], now: float) -> None:
        """A decision that acts under the lock, with the deadline its decider acted under (j.ActedUnderLease); a lock
        decision of an instance told SIGTERM (*a stopping instance takes no lock*)."""
        if isinstance(after, Lease) and self.told_sigterm(str(self.sim.owner())):
            self.stopping_decided(str(self.sim.owner()), effects, now)
        for effect in effects:
            if isinstance(effect, WriteDefinition):
                until = after.valid_until if after.leading else 0.0
                self.add(j.ActedUnderLease(now, str(self.sim.owner()), "a definition write", until))
            elif isinstance(effect, (SubmitShare, ResetProgress)):
                what = "a share" if isinstance(effect, SubmitShare) else "a reset"
                self.add(
                    j.ActedUnderLease(now, str(self.sim.owner()), f"{what} for {effect.hostname}", effect.not_after)
                )

    def told_sigterm(self, instance: str) -> bool:
        """Whether the running process of `instance` was told SIGTERM (its stop request, which a container started again
        does not have)."""
        service = next((s for s in self.services if s.name == instance), None)
        return service is not None and service.stop_requested is not None and service.stop_requested.is_set()

    def stopping_decided(self, instance: str, effects: tuple[Any, ...], now: float) -> None:
        """A stopping instance takes no lock: once an instance's process is told SIGTERM (its supervisors stop its
        actors one by one, up to 3 s, Leadership fourth, after its publisher and Unsealer), its Leadership decides no
        attempt on the lock or on the standby key (an offer to take over: an unfit holder would hand the lock to an
        instance about to go) and tells no BecameLeader. Won, such a lock would be held up to the stop's end by an
        instance saying active with nothing working. A lock it holds is released by its stop, as always
        (LostLeadership first)."""
        for effect in effects:
            if isinstance(effect, Acquire):
                self.stop_breaches.append(f"{instance}, told SIGTERM, tried {effect.key} at {now:.3f}")
            elif isinstance(effect, Publish) and isinstance(effect.message, BecameLeader):
                self.stop_breaches.append(f"{instance}, told SIGTERM, told BecameLeader at {now:.3f}")

    def read_logs(self) -> None:
        for service in self.services:
            sink, entries = service.sink, service.entries
            read_sink, seen = self.seen_entries.get(service.name, (None, 0))
            if sink is not read_sink:
                # A new start of the process logs to a new sink: read it from its first entry (counting on the number
                # alone skipped a restarted process's first lines when it had logged as many as the last one by the
                # next read: long-run seed 1028, i2's first 27 lines and its ERROR on a sealed Vault unread).
                seen = 0
            for entry in entries[seen:]:
                self.logged(service.name, entry)
            self.seen_entries[service.name] = (sink, len(entries))

    def logged(self, instance: str, entry: LogEntry) -> None:
        t = entry.timestamp - self.sim.wall() + self.sim.now()
        text = " ".join(part for part in (entry.message, entry.exception_text or "", entry.traceback or "") if part)
        for secret in self.credentials:
            if secret in text:
                raise Violation(NO_SECRET, f"{instance}/{entry.component}: an unseal share in a log entry")
        self.say(t, instance, f"{entry.level.name:<5} {entry.component}: {entry.message}")
        self.lives.logged(t, instance, entry)
        matched = VAULT_LINE.match(entry.message)
        self.retirement_heard(t, instance, entry, matched is not None)
        if matched is not None and entry.component.startswith("vault-monitor"):
            host = (urllib.parse.urlsplit(matched.group(1)).hostname or "").lower()
            if entry.level is Level.ERROR:
                self.add(j.ErrorLogged(t, instance, host, standby=ESCALATION in entry.message))
                self.reached.add("sealed Vault reported")
            elif " is unsealed" in entry.message:
                self.add(j.SeenUnsealed(t, instance, host))
        if entry.level is Level.ERROR and KEYS_REFUSED in entry.message:
            self.add(j.KeysRefused(t, instance, entry.message.split(":")[0]))
        if (" crashed (" in entry.message or entry.level is Level.FATAL) and INJECTED not in entry.message:
            # Nothing the servers or the network can do makes an actor crash (the gateways never raise): only the
            # crash faults do (InjectedFault, named in the line), and the kills, which leave no line.
            raise Violation(NO_CRASH, f"{instance}: {entry.component}: {entry.message}")

    def retirement_heard(self, t: float, instance: str, entry: LogEntry, vault_line: bool) -> None:
        """A retired monitor says nothing: once an instance's fleet said it no longer monitors a Vault (its manager
        was demoted or left, its URL changed), that monitor logs no line about its Vault, not even the reading of a
        probe that was under way (slower than the fleet's 3 s stop budget), until the fleet monitors it again. (Issue
        26's defect 5: such a reading came after MonitoringStopped, and an ERROR `Vault on ... is sealed` of a node
        that is no manager any more is an alert about nothing.)"""
        if entry.component == "vault-fleet":
            stopped, started = FLEET_STOPPED.match(entry.message), FLEET_STARTED.match(entry.message)
            if stopped is not None:
                self.retired[(instance, stopped.group(1))] = t
            elif started is not None:
                self.retired.pop((instance, started.group(1)), None)
        elif vault_line and entry.component.startswith("vault-monitor:"):
            name = entry.component.removeprefix("vault-monitor:")
            at = self.retired.get((instance, name))
            if at is not None and t > at + RETIRED_GRACE:
                raise Violation(
                    RETIRED_SILENT,
                    f"{instance}/{entry.component} said at {t:.3f}, {t - at:.3f} s after its fleet stopped monitoring "
                    f"that Vault: {entry.message}",
                )

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
            elif sealed and vault.sealed_since is not None and vault.sealed_since > before[2]:
                # Unsealed and sealed again since the last look (a restart 14 ms after the unseal, long-run seed 1873
                # once its monitors were judged by their URL's host): a monitor may have seen it unsealed (and
                # forgotten its report, as the judge does); the new seal is timed from when it came.
                self.add(j.Unsealed(vault.sealed_since, host))
                self.add(j.Sealed(vault.sealed_since, host))
            if unreadable > 0.0 and (before is None or before[1] != unreadable):
                self.add(j.Unreadable(now, host, unreadable))
            self.vault_state[host] = (sealed, unreadable, vault.sealed_since if sealed and vault.sealed_since else 0.0)
        for record in self.servers.changes(now, self.docker, self.consul):
            self.add(record)
        for service in self.services:
            self.lives.look(now, service.name)
        self.pending += self.lives.take()
        can_lead = tuple(
            service.name
            for service in self.services
            if service.running
            and service.name not in self.restarting
            and not self.told_sigterm(service.name)
            and not self.cut_off_from_consul(service.name, now)
        )
        if can_lead != self.can_lead:
            self.can_lead = can_lead
            self.add(j.CanLead(now, can_lead))
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
        """Run (judging as it goes) until `end`, or `until` if the run grew longer as it went (a long crash loop, a
        container Docker's health check found unhealthy); what `converges` finds then."""
        while self.sim.now() < max(end, self.until) - 1e-9:
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
        if self.stop_breaches:
            raise Violation(STOPPING_TAKES_NOTHING, self.stop_breaches[0])
        if self.leaks:
            raise Violation(NO_SECRET, self.leaks[0])
        pending, self.pending = sorted(self.pending, key=lambda record: record.t), []
        for record in pending:
            self.history.append(record)
            self.verdict(self.judge.feed(record))

    @staticmethod
    def verdict(findings: list[j.Finding]) -> None:
        if findings:
            raise Violation(findings[0].invariant, findings[0].text)

    def step(self) -> None:
        """After each STEP of the runtime: Docker's health checks due; what the services logged and the servers hold,
        judged."""
        self.docker_health_checks()
        self.read_logs()
        self.look_at_servers()
        self.judge_pending()
        now = self.sim.now()
        self.verdict(self.judge.look(now))
        self.look_at_metrics(now)
        self.look_at_active(now)

    def look_at_metrics(self, now: float) -> None:
        """A series names one Vault: in no running instance's metrics does a `neon_cm_vault_state` series carry a `node`
        label that two managers' hostnames share (for longer than SERIES_LAG after the Swarm last changed). Such a
        series tells one Vault's state, then the other's, as their monitors publish: an operator's alert on it misses
        a sealed Vault, or flaps (issue 26's defect 6: the service names such managers `<hostname> (node <ID>)`).
        Exception: an instance whose own Docker fails since before the Swarm last changed cannot list that change (it
        monitors the managers it last listed, says so at ERROR, and its health turns red: no successful node listing);
        its series are those of the Swarm it could list (long-run seed 11684: node02, a worker named manager-2 like the
        manager node03, was promoted at 11.36 s while i1's own Docker refused from 5.76 s to the end: i1 knew one
        manager-2 and named its Vault so, one Vault a series)."""
        docker = self.docker
        shared = Counter(
            str(node["Description"]["Hostname"]).lower() for node in docker.nodes if node["Spec"]["Role"] == "manager"
        )
        names = {name for name, count in shared.items() if count > 1}
        if not names or (docker.events and now - docker.events[-1][0] < SERIES_LAG):
            return
        changed = docker.events[-1][0] if docker.events else 0.0
        for service in self.services:
            if not service.running or self.sim.paused(service.name):
                continue
            own = self.own_docker.get(service.name)
            if own is not None and own[1] <= changed:
                continue  # its own Docker failed before the Swarm's last change: it cannot know of it
            for actor in self.sim.actors(service.name):
                if not isinstance(actor, Metrics) or actor.actor_stopped.is_set():
                    continue
                for metric in actor.metrics.vault_state.collect():
                    for sample in metric.samples:
                        node = sample.labels.get("node", "")
                        if node in names and sample.value == 1:
                            raise Violation(
                                ONE_VAULT_A_SERIES,
                                f"{service.name}'s neon_cm_vault_state{{node={node!r}}} says "
                                f"{sample.labels.get('state')} for one of {shared[node]} managers with that hostname "
                                f"at {now:.3f}",
                            )

    def look_at_active(self, now: float) -> None:
        """Says active only within its lease: no running instance's `neon_cm_active` says 1 (docs/operations.md: "1
        while this instance holds the lock (writes and unseals)") ACTIVE_LAG past the deadline of the lease its
        Leadership told last, nor of its last pause's end (its timers run late, in order, when it continues). Past the
        deadline it writes and unseals nothing; an operator's dashboard, alert or `neon-cluster-manager status` reading
        the gauge must not show it active then (beside the standby that took the lock)."""
        for service in self.services:
            name = service.name
            if not service.running or self.sim.paused(name):
                continue
            since = max(self.last_lease.get(name, 0.0), self.sim.paused_until(name))
            if now < since + ACTIVE_LAG:
                continue
            for actor in self.sim.actors(name):
                if not isinstance(actor, Metrics) or actor.actor_stopped.is_set():
                    continue
                if any(sample.value == 1 for metric in actor.metrics.active.collect() for sample in metric.samples):
                    raise Violation(
                        SAYS_ACTIVE,
                        f"{name}'s neon_cm_active says 1 at {now:.3f}; the lease its Leadership told last ended at "
                        f"{self.last_lease.get(name, 0.0):.3f}",
                    )

    def docker_health_checks(self) -> None:
        """Docker's HEALTHCHECK in each running container: the real `neon-cluster-manager health` (cli/healthcheck.py's
        verdict on the health file the instance writes, by the virtual wall clock) every HEALTH_INTERVAL from the
        container's start (at the driver's first step from then); HEALTH_RETRIES failures that count in a row and the
        container is killed and started again TASK_RESTART_DELAY later. No draw, no runtime event, no line until a
        failure counts: a seed where none does takes the same steps (and trace hash) as without the health check."""
        now = self.sim.now()
        for service in self.services:
            if service.started_at is None or not service.running or service.name in self.restarting:
                continue
            check = self.health_checks.get(service.name)
            if check is None or check.started_at != service.started_at:
                check = self.health_checks[service.name] = HealthCheck(service.started_at)
            due = check.next_at
            if now < due - 1e-9:
                continue
            check.probes += 1
            passes, line = verdict(service.env, self.sim.wall)
            line = line.replace(self.health.name, "<health dir>")  # a temporary folder: the trace stays the seed's
            if passes:
                check.passed, check.streak = True, 0
                continue
            if not (check.passed or due - check.started_at >= HEALTH_START_PERIOD):
                continue  # the start period's failures do not count (nor are they said: the trace stays as it was)
            check.streak += 1
            self.say(
                now, "docker", f"{service.name}'s health check: {line} ({check.streak} of {HEALTH_RETRIES} in a row)"
            )
            # The run lasts until the container would be replaced and has had time to recover.
            left = HEALTH_RETRIES - check.streak
            self.until = max(self.until, now + left * HEALTH_INTERVAL + TASK_RESTART_DELAY + AFTER_LOOP)
            if check.streak >= HEALTH_RETRIES:
                self.say(now, "docker", f"{service.name} is unhealthy: its task is replaced")
                self.reached.add("docker: unhealthy container replaced")
                self.kill(service)
                self.restart_later(service, TASK_RESTART_DELAY)

    # ------------------------------------------------------------------ faults

    def tails_now(self) -> bool:
        """Latency tails stop QUIET_END before the run's end, as the faults do before it: what is judged at the end
        (converges) needs a stretch in which a call is not 13 s slow (the long run's seed 19147: three of the active
        instance's Consul calls in 30 s took 8-17 s each, the last answered 3 s before the end, past its lease)."""
        return self.sim.now() < self.until - QUIET_END

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

    def schedule_long_loop(self, rng: random.Random) -> None:
        """In some seeds, a crash loop long enough for its supervisor to give up (production's: 5 restarts in 60 s,
        1 s doubling: the sixth crash about 31 s after the first)."""
        if rng.random() >= LONG_LOOP:
            return
        self.long_loop = True
        when, service = rng.uniform(0.5, 6.0), rng.choice(self.services)
        name, seconds = rng.choice(sorted({*LOOPING, *TOP_CHILDREN})), rng.uniform(*LONG_LOOP_SECONDS)
        action, text = looping(self, service, name, seconds, cut=False)
        # The run lasts until the loop ended + AFTER_LOOP: said now, since run() reads `until` before any fault acts.
        self.until = max(self.until, when + seconds + AFTER_LOOP)
        if self.own_docker_fails:
            # The definition's clock starts when the looping actor runs again (sim/judge.py `follows_the_swarm`):
            # the run lasts until its bound from there has passed.
            self.until = max(self.until, when + seconds + LOOP_RESTART + DOCKER_TIMEOUT + FOLLOW_BOUND + 1.0)
        self.faults.append(f"{when:7.3f} {text}")
        self.faults.sort()
        self.sim.schedule(when, self.fault(action, text, "long_crash_loop"))

    def schedule_own_docker(self, rng: random.Random) -> None:
        """In some seeds one instance's own Docker (its manager's daemon) hangs or refuses until the end, from a
        moment when that instance holds the lock if one does: the lock must go to an instance that can list."""
        if rng.random() >= OWN_DOCKER_FAILS:
            return
        when, kind = rng.uniform(0.5, 6.0), rng.choice(("hangs", "refuses"))
        others = bool(self.faults)

        def act() -> None:
            now = self.sim.now()
            holder = self.consul.holder(now)
            names = [service.name for service in self.services]
            name = holder if holder in names else names[0]
            self.own_docker[name] = (kind, now)
            self.reached.add("fault: own_docker")
            follow_from = FAULTS_END + DOCKER_TIMEOUT if others else now
            self.add(j.OwnDockerFails(now, name, follow_from))
            self.say(now, "FAULT", f"{name}'s own Docker {kind} until the end")

        self.faults.append(f"{when:7.3f} the lock holder's own Docker {kind} until the end")
        self.faults.sort()
        self.sim.schedule(when, act)
        self.until = max(self.until, (FAULTS_END + DOCKER_TIMEOUT if others else 6.0) + FOLLOW_BOUND + 1.0)
        self.own_docker_fails = True

    def schedule_leader_alone(self, rng: random.Random) -> None:
        """In some seeds, at a moment of the first 4 s, every instance but the lock holder pauses for 3.5-6 s (a
        frozen host, as a VM migration), the holder's Leadership crashes at its next message (a bug), and a node is
        labelled 2-4 s later: the holder's restarted Leadership, alone, takes the lock again on a new session, whose
        subscribers must follow it (a crashed Leadership tells LostLeadership; the publisher takes a new session's
        BecameLeader while it leads) to publish the label."""
        if rng.random() >= LEADER_ALONE:
            return
        when, seconds, after = rng.uniform(0.5, 4.0), rng.uniform(3.5, 6.0), rng.uniform(2.0, 4.0)
        position, cores = rng.randrange(MANAGERS + WORKERS), rng.choice(ALONE_CORES)

        def act() -> None:
            now = self.sim.now()
            holder = self.consul.holder(now)
            alone = [service for service in self.services if service.name == holder and service.running]
            if not alone or self.sim.paused(alone[0].name):
                return
            for service in self.services:
                if service is not alone[0] and service.running and not self.sim.paused(service.name):
                    service.pause(seconds)
                    self.add(j.Paused(now, service.name, now + seconds))
            for actor in supervised(self, alone[0]):
                if getattr(actor, "register_as", None) == "leadership":
                    self.sim.fail_next_message(actor, InjectedFault("injected: a bug in leadership"))
            self.say(now, "FAULT", f"every instance but {holder} paused for {seconds:.2f} s; its Leadership crashes")

        self.faults.append(f"{when:7.3f} every instance but the lock holder paused; the holder's Leadership crashes")
        self.sim.schedule(when, act)
        self.relabel_at(when + after, position, cores)

    def schedule_holder_loop(self, rng: random.Random) -> None:
        """In some seeds (HOLDER_LOOP), once the other faults are over, the lock holder's SwarmWatcher dies as it starts
        for 15-20 s (short of its supervisor's giving up) and a node is labelled 2-4 s after: the definition must
        follow the label through a standby within HOLDER_LOOP_BOUND (`j.HolderLoops`). Not with a long crash loop or
        an own Docker failing (their clocks are others), nor when no other instance runs unpaused to take over."""
        if rng.random() >= HOLDER_LOOP or self.own_docker_fails or self.long_loop:
            return
        when, after = rng.uniform(*HOLDER_LOOP_FROM), rng.uniform(2.0, 4.0)
        seconds, position = rng.uniform(*HOLDER_LOOP_SECONDS), rng.randrange(MANAGERS + WORKERS)

        def act() -> None:
            now = self.sim.now()
            holder = self.consul.holder(now)
            looping_one = [s for s in self.services if s.name == holder and s.running and s.name not in self.restarting]
            standbys = [
                s
                for s in self.services
                if s.name != holder and s.running and s.name not in self.restarting and not self.sim.paused(s.name)
            ]
            if not looping_one or not standbys:
                self.say(now, "FAULT", "the lock holder's SwarmWatcher loop: no holder, or no standby to take over")
                return
            self.reached.add("fault: holder_loop")
            self.add(j.HolderLoops(now, looping_one[0].name, when + after, HOLDER_LOOP_BOUND))
            action, text = looping(self, looping_one[0], "swarm-watcher", seconds, cut=False)
            self.say(now, "FAULT", f"the lock holder: {text}")
            action()

        self.faults.append(f"{when:7.3f} the lock holder's SwarmWatcher dies as it starts, for {seconds:.2f} s")
        self.faults.sort()
        self.sim.schedule(when, act)
        self.relabel_at(when + after, position, "24")
        self.until = max(self.until, when + seconds + AFTER_LOOP)

    def schedule_rebuilt_consul(self, rng: random.Random) -> None:
        """In some seeds, at a moment of 1-8 s, Consul is rebuilt (down 0.3-2 s, then a new cluster: no data, its
        indexes from where the first one's began) and cluster setup publishes a new base the moment it is up, as it
        did at the start (the settings, the base, its hash: the same indexes as then); a node is labelled 3-6 s later.
        An index the publisher read before now names another value (issue 17's defect 7: a decoded base cached by
        ModifyIndex alone writes the old base over the new)."""
        if rng.random() >= REBUILT:
            return
        when, seconds, after = rng.uniform(1.0, 8.0), rng.uniform(0.3, 2.0), rng.uniform(3.0, 6.0)
        position, cores = rng.randrange(MANAGERS + WORKERS), rng.choice(ALONE_CORES)

        def act() -> None:
            now = self.sim.now()
            self.consul.restart(now, seconds, False)
            self.consul.index = FRESH_INDEX
            self.sim.schedule(now + seconds, restore_after_loss(self))
            self.say(now, "FAULT", f"Consul rebuilt (no data, indexes from {FRESH_INDEX}), down {seconds:.2f} s")

        self.faults.append(f"{when:7.3f} Consul rebuilt (no data, its indexes again), setup at once")
        self.sim.schedule(when, act)
        self.relabel_at(when + seconds + after, position, cores)

    def relabel_at(self, at: float, position: int, cores: str) -> None:
        """At `at`, node `position` is labelled io.neon.compute.cores=`cores` (values no other fault sets: the Swarm
        changes, and the definition must follow it after what the setup before did)."""

        def relabel() -> None:
            self.docker.label(self.sim.now(), position, "io.neon.compute.cores", cores)
            self.say(self.sim.now(), "FAULT", f"node {position + 1} labelled io.neon.compute.cores={cores}")

        self.faults.append(f"{at:7.3f} node {position + 1} labelled io.neon.compute.cores={cores}")
        self.faults.sort()
        self.sim.schedule(at, relabel)

    def lasting(self, seconds: float) -> float:
        return max(0.0, min(seconds, FAULTS_END - self.sim.now()))

    def kill(self, service: SimService) -> None:
        service.kill()
        self.lives.killed(self.sim.now(), service.name)

    def restart_later(self, service: SimService, delay: float) -> None:
        self.restarting.add(service.name)

        def start() -> None:
            self.restarting.discard(service.name)
            self.add(j.ContainerRestarted(self.sim.now(), service.name))
            self.reached.add("supervision: container restart")
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
        saved_decides = observe_decisions(self.coverage, self.acted)
        pykka_log = logging.getLogger("pykka")
        saved_level = pykka_log.level
        pykka_log.setLevel(logging.CRITICAL)  # as neon_cm_main.main: the supervisors log each crash once
        monitoring.UNSEAL_ANSWER_SECONDS = 2 * VAULT_POLL
        self.sim.lives = lambda owner, actor, started: self.lives.told(self.sim.now(), str(owner), actor, started)
        self.sim.__enter__()
        try:
            self.settings(NODE_POLL, VAULT_POLL)
            self.setup_publishes()
            self.backup, self.backup_base = self.consul.snapshot(), self.base
            for host in [self.vault_key(node) for node in self.docker.nodes if node["Spec"]["Role"] == "manager"]:
                self.add(j.RoleChanged(0.0, host, manager=True))
                self.add(j.Listed(0.0, host))
            self.say(0.0, "--", f"fault kinds on: {', '.join(sorted(self.kinds_on))}")
            if self.scenario is not None:
                self.scenario(self)
            else:
                self.schedule_faults()
                rolling_update(self)
                if not self.liveness:
                    self.schedule_own_docker(random.Random(f"own docker {self.seed}"))
                    self.schedule_long_loop(random.Random(f"long loop {self.seed}"))
                    self.schedule_leader_alone(random.Random(f"leader alone {self.seed}"))
                    self.schedule_rebuilt_consul(random.Random(f"rebuilt consul {self.seed}"))
                    self.schedule_holder_loop(random.Random(f"holder loop {self.seed}"))
            for service in self.services:
                self.sim.schedule(self.starts[service.name], service.start)
            if self.liveness:
                self.run_liveness()
            findings = self.run_to(self.until)
            if self.end > END and findings and findings[0].text.endswith("still sealed"):
                # a bad share's combinations: each refused one costs a poll
                findings = self.run_to(self.until + self.end - END)
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
            pykka_log.setLevel(saved_level)
            for decider, decide in saved_decides.items():
                setattr(decider, "decide", decide)  # noqa: B010
            actors.leadership.instance_name = saved_name
            monitoring.UNSEAL_ANSWER_SECONDS = saved_seconds
            transport.install(previous)
            self.health.cleanup()
        return self.result("", "")

    def advance_to(self, end: float) -> None:
        """Run (judging as it goes) until `end`, without the end's judgement."""
        while self.sim.now() < end - 1e-9:
            self.sim.run_until(round(self.sim.now() + STEP, 6))
            self.step()

    def converged(self) -> bool:
        """Whether the service has converged now (as the judge's `finish` judges it)."""
        return not self.judge.finish(self.sim.now())

    def run_liveness(self) -> None:
        """Liveness mode: from FAULTS_END, look every LIVENESS_STEP whether the service has converged; it must be
        within liveness_bound() of FAULTS_END and stay so for settle() more (then the run ends)."""
        self.advance_to(FAULTS_END)
        deadline = FAULTS_END + liveness_bound(self)
        while self.sim.now() < deadline + LIVENESS_STEP / 2:
            if not self.converged():
                self.converged_since = None
            elif self.converged_since is None:
                self.converged_since = self.sim.now()
            if self.converged_since is not None and self.sim.now() - self.converged_since >= settle(self):
                break
            self.advance_to(self.sim.now() + LIVENESS_STEP)
        if self.converged_since is None:
            self.verdict(self.judge.finish(self.sim.now()))  # says what is not converged
            raise Violation(
                "converges within the bound",
                f"not converged {liveness_bound(self):.1f} s after the faults stopped at {FAULTS_END:g} s",
            )
        self.until = self.sim.now()

    def trace_digest(self) -> str:
        digest = hashlib.sha256(self.sim.trace_hash().encode())
        digest.update("".join([line + "\n" for _, line in sorted(self.trace, key=lambda item: item[0])]).encode())
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
            frozenset(self.reached | self.coverage.reached),
            self.kinds_on,
            len(self.sim.trace or ()),
            None if self.converged_since is None else self.converged_since - FAULTS_END,
        )


#: Where each run's health files go: a RAM file system when the machine has one. The service writes its health file
#: every HEALTH_SECONDS (write_replacing: a temporary file, then a rename); on a disk-backed /tmp those renames were
#: ~5 % of a seed's CPU. The path is in no trace line (it is random), so a seed runs the same either way.
HEALTH_DIR_BASE = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def run_seed(seed: int, swarm_testing: bool = True, liveness: bool = False) -> Result:
    return Cluster(seed, swarm_testing, liveness=liveness).run()


def liveness_bound(cluster: Cluster) -> float:
    """How long after FAULTS_END the service must have converged (liveness mode), as a chain of waits that can follow
    one another (with the production figures this world runs):

    1. DOCKER_TIMEOUT (10 s): a call a hang held when the faults stopped is answered by its client's timeout (the
       longest: Consul's and Docker's 10 s). A kill's container restart (4 s at most) is within it.
    2. A restart still pending: after a crash loop cut at FAULTS_END, the backoff decided for its last crash (1 s
       doubling: at most 8 s after the fourth crash within 12 s); after a single crash, 1 s.
    3. CHECK_TTL + 0.5 s (a standby's step) + 1 s: the lock. A holder that stopped passing loses it when its
       check expires, and a standby takes it at its next step; 1 s for the lock's own calls.
    4. 3 x the longest Vault poll: a monitor whose request was lost asks again two polls after it asked and sees
       the Vault unsealed at the poll after.
    5. With a bad share among the credentials: 2 x (threshold + 1) Vault polls more.
    """
    poll = cluster.longest_vault_poll
    pending = 8.0 if cluster.crash_loops else 1.0
    bound = DOCKER_TIMEOUT + pending + CHECK_TTL + 0.5 + 1.0 + 3 * poll
    if cluster.bad_share:
        bound += 2 * (THRESHOLD + 1) * poll
    return bound


def settle(cluster: Cluster) -> float:
    """Liveness mode: converged this long (two Vault polls and the check's TTL) counts as converged for good."""
    return 2 * cluster.longest_vault_poll + CHECK_TTL


#: The deciders whose decisions the coverage table reads (sim/coverage.py), with the actor kind that runs each.
DECIDERS: dict[type, str] = {
    Lease: "leadership",
    Unsealing: "unsealer",
    Supervision: "service",
    Publishing: "definition-publisher",
    SwarmListing: "swarm-watcher",
    Fleet: "vault-fleet",
    VaultMonitoring: "vault-monitor",
}


def observe_decisions(
    seen: Coverage, acted: Callable[[Any, tuple[Any, ...], float], None] | None = None
) -> dict[type, Callable[..., Any]]:
    """Wrap each decider's `decide` for a run so that every decision the real actors take is told to `seen` (and its
    state after and effects to `acted`; passed on unchanged); the originals, to put back."""
    saved: dict[type, Callable[..., Any]] = {}
    for decider, actor in DECIDERS.items():
        original = saved[decider] = decider.decide  # type: ignore[attr-defined]

        def decide(state: Any, event: Any, now: float, original: Any = original, actor: str = actor) -> Any:
            after, effects = original(state, event, now)
            seen.saw(actor, event, effects, after)
            if acted is not None:
                acted(after, tuple(effects), now)
            return after, effects

        setattr(decider, "decide", decide)  # noqa: B010 -- observing, as Leadership.publish
    return saved


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
    "rolling update (SIGTERM of the active)",
    "a standby told SIGTERM, its stop held up",
    "docker: unhealthy container replaced",
)


#: Items of sim/coverage.py's table a sweep of this world need not reach, and why (shown as `--` when not reached).
NOT_REQUIRED: dict[str, str] = {}


def coverage_items() -> list[str]:
    """Every item of this world's table: each fault kind (the own-Docker failure too), the servers' items, and the
    deciders' states and transitions of sim/coverage.py."""
    return [
        *(f"fault: {kind}" for kind in (*KIND_NAMES, "own_docker", "long_crash_loop", "holder_loop")),
        *SOMETIMES,
        *coverage.expected(()),
    ]


def required(item: str) -> bool:
    return item not in NOT_REQUIRED and item not in coverage.OPTIONAL


def coverage_table(reached: Counter[str], seeds: int, kinds_on: Counter[str]) -> tuple[str, list[str]]:
    """The coverage table of a sweep of the cluster world, and the required items never reached."""
    lines = [
        f"coverage of {seeds} seeds (seeds reaching each; fault kinds: seeds with the kind on | fired; "
        "!! never reached, -- never reached but not required):"
    ]
    missing: list[str] = []
    for item in coverage_items():
        if not reached[item]:
            missing += [item] if required(item) else []
        mark = "  " if reached[item] else "!!" if required(item) else "--"
        kind = item.removeprefix("fault: ")
        on = f"{kinds_on[kind]:>7} |" if item.startswith("fault: ") and kind in KIND_NAMES else f"{'':>7}  "
        lines.append(f"  {mark} {item:<60} {on} {reached[item]:>7}")
    return "\n".join(lines), missing


# --------------------------------------------------------------------------- fault kinds: (action, description)

Fault = tuple[Callable[[], object], str]


def kill(cluster: Cluster, rng: random.Random) -> Fault:
    """SIGKILL of an instance; Docker starts its container again after a while."""
    service, delay = rng.choice(cluster.services), rng.uniform(0.5, 4.0)

    def act() -> None:
        if service.running and service.name not in cluster.restarting:
            cluster.kill(service)
            cluster.restart_later(service, delay)

    return act, f"{service.name} killed, started again {delay:.2f} s later"


def supervised(cluster: Cluster, service: SimService) -> list[LinkedActor]:
    """The instance's running actors that have a parent (every one but the top supervisor), in start order."""
    return [
        actor
        for actor in cluster.sim.actors(service.name)
        if isinstance(actor, LinkedActor) and actor.parent is not None and not actor.actor_stopped.is_set()
    ]


def crash(cluster: Cluster, rng: random.Random) -> Fault:
    """A bug in one actor's handler: the next message told to it raises (SimRuntime.fail_next_message); pykka's loop,
    the actor's failure hooks and its supervisor do the rest, as in production."""
    service, pick = rng.choice(cluster.services), rng.random()

    def act() -> None:
        actors = supervised(cluster, service)
        if actors:
            actor = actors[int(pick * len(actors))]
            cluster.sim.fail_next_message(actor, InjectedFault(f"injected: a bug in {type(actor).__name__}"))

    return act, f"an actor of {service.name} crashes at its next message"


def crash_together(cluster: Cluster, rng: random.Random) -> Fault:
    """Two children of one supervisor (or owner) crash at their next messages (two monitors failing in one round)."""
    service, pick = rng.choice(cluster.services), rng.random()

    def act() -> None:
        groups: dict[int, list[LinkedActor]] = {}
        for actor in supervised(cluster, service):
            groups.setdefault(id(actor.parent), []).append(actor)
        pairs = [actors[:2] for actors in groups.values() if len(actors) >= 2]
        if pairs:
            for actor in pairs[int(pick * len(pairs))]:
                cluster.sim.fail_next_message(actor, InjectedFault(f"injected: a bug in {type(actor).__name__}"))

    return act, f"two actors of one supervisor of {service.name} crash at their next messages"


LOOPING = ("unsealer", "vault-fleet", "swarm-watcher", "definition-publisher", "leadership")
#: The top supervisor's children a long crash loop may hit too (their supervisor has no parent: health names them).
TOP_CHILDREN = ("leadership", "settings", "metrics")


def crash_loop(cluster: Cluster, rng: random.Random) -> Fault:
    """An actor dies as it starts, for 5 to 15 s (until the faults stop at the latest; a bug its restarts cannot get
    past): its supervisor restarts it with the production backoff (1 s doubling). The running one crashes at its
    next message; each start until the loop ends raises in `setup`. (A long one, schedule_long_loop, outlasts the
    supervisor's intensity: 5 restarts in 60 s, the sixth crash about 31 s after the first.)"""
    service, name = rng.choice(cluster.services), rng.choice(LOOPING)
    return looping(cluster, service, name, rng.uniform(*LOOP_SECONDS))


def looping(cluster: Cluster, service: SimService, name: str, seconds: float, cut: bool = True) -> Fault:
    """`name` of `service` dies as it starts for `seconds` (cut when the faults stop, unless told)."""

    def act() -> None:
        now = cluster.sim.now()
        until = now + (cluster.lasting(seconds) if cut or cluster.liveness else seconds)
        cluster.crash_loops.append(until)
        cluster.until = max(cluster.until, until + AFTER_LOOP)
        cluster.sim.fail_starts(service.name, name, until, InjectedFault(f"injected: {name} dies as it starts"))
        for actor in supervised(cluster, service):
            if getattr(actor, "register_as", None) == name:
                cluster.sim.fail_next_message(actor, InjectedFault(f"injected: a bug in {name}"))

    return act, f"{service.name}/{name} dies as it starts, for {seconds:.2f} s"


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
        if not cluster.consul.reachable(now) or cluster.consul.no_leader(now) is not None:
            # during an election the settings' writes would be refused (and lost: the service writes its defaults)
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
    """A snapshot saved and restored 1-6 s later, or (half the time) the backup saved before the instances started
    restored now (no session in it: the holder's lock is gone while its check passes)."""
    ago, backup = rng.uniform(1.0, 6.0), rng.random() < 0.5
    if backup:
        return restore_backup(cluster), "the Consul backup saved before the instances started is restored"

    def act() -> None:
        now = cluster.sim.now()
        if not cluster.consul.reachable(now) or cluster.consul.no_leader(now) is not None:
            # `consul snapshot save` is a GET of /v1/snapshot, which the servers' leader answers: with Consul down
            # (refused or hung) or without a leader it fails, and there is nothing to restore. (Before, a snapshot
            # saved while a rebuilt Consul was down held its empty store; restored after cluster setup published
            # again, it took the definition away for good: seed 2788 of the long run.)
            cluster.say(now, "--", "the snapshot could not be saved (Consul down or without a leader)")
            return
        cluster.snapshots.append(cluster.consul.snapshot())
        saved, base = cluster.snapshots[-1], cluster.base

        def restore() -> None:
            now = cluster.sim.now()
            cluster.consul.restore(now, saved)
            if DEFINITION_KEY not in saved.kv:
                # Saved after Consul lost its data and before cluster setup wrote the base again: the restore takes
                # the base away (the long run's seed 8075). The service can only say so (an ERROR naming `definition
                # put`); cluster setup writes it again, with the settings, as the operator it tells does.
                cluster.say(now, "--", "the restored snapshot holds no base definition: cluster setup writes it again")
                restore_after_loss(cluster)()
            elif (
                base is not cluster.base
            ):  # cluster setup wrote another base since (Consul rebuilt): the saved one is back
                cluster.base = base
                cluster.add(j.BaseWritten(now, base))

        cluster.sim.schedule(now + cluster.lasting(ago), restore)

    return act, f"a Consul snapshot saved, restored {ago:.2f} s later"


def restore_backup(cluster: Cluster) -> Callable[[], None]:
    def act() -> None:
        now = cluster.sim.now()
        cluster.consul.restore(now, cluster.backup)
        # Its base and settings are Consul's again. The world's base follows (a snapshot restored later compares its
        # own with it: the long run's seed 20659, whose snapshot's base, back in Consul, was taken for the backup's).
        cluster.base = cluster.backup_base
        cluster.add(j.BaseWritten(now, cluster.backup_base))
        cluster.add(j.PollsSet(now, NODE_POLL, VAULT_POLL))

    return act


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
    """Another client resets a Vault's unseal attempt: at once, or (half the time) right after the first share an
    instance gives any Vault (from the run's start) that leaves an attempt under way, between two of its shares (the
    Unsealer must notice its progress discarded)."""
    host, armed = rng.choice(sorted(cluster.vaults)), rng.random() < 0.5
    if armed:
        cluster.armed_resets.append(None)  # from the start: most attempts are made then
        return lambda: None, "someone else resets the first attempt under way (armed from the start)"
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


def vault_misbehaves(cluster: Cluster, rng: random.Random, until: str, longest: float, words: str) -> Fault:
    """One Vault (drawn) answers as `words` say for 1 to `longest` s: its simulated node's `until` attribute (the
    end of that behaviour) set when the fault acts."""
    host, seconds = rng.choice(sorted(cluster.vaults)), rng.uniform(1.0, longest)

    def act() -> None:
        setattr(cluster.vaults[host], until, cluster.sim.now() + cluster.lasting(seconds))

    return act, f"the Vault on {host} {words} for {seconds:.2f} s"


def vault_garbage(cluster: Cluster, rng: random.Random) -> Fault:
    return vault_misbehaves(cluster, rng, "garbage_until", 14.0, "answers 503 null")


def vault_nested(cluster: Cluster, rng: random.Random) -> Fault:
    return vault_misbehaves(cluster, rng, "nested_until", 8.0, "answers JSON nested 100,000 deep")


def vault_echo(cluster: Cluster, rng: random.Random) -> Fault:
    host, seconds = rng.choice(sorted(cluster.vaults)), rng.uniform(1.0, 8.0)

    def act() -> None:
        vault = cluster.vaults[host]
        vault.restart(cluster.sim.now())  # restarted behind a new proxy (maintenance)
        vault.echo_until = cluster.sim.now() + cluster.lasting(seconds)

    return act, f"the Vault on {host} restarts behind a proxy answering 502 echoing each PUT for {seconds:.2f} s"


def vault_hang(cluster: Cluster, rng: random.Random) -> Fault:
    return vault_misbehaves(cluster, rng, "hung_until", 6.0, "hangs")


def label(cluster: Cluster, rng: random.Random) -> Fault:
    position, value = rng.randrange(MANAGERS + WORKERS), str(rng.choice((2, 4, 8, 16)))
    return (
        lambda: cluster.docker.label(cluster.sim.now(), position, "io.neon.compute.cores", value),
        f"node {position + 1} labelled io.neon.compute.cores={value}",
    )


def role_change(cluster: Cluster, rng: random.Random) -> Fault:
    pick = rng.random()

    def act() -> None:
        now = cluster.sim.now()
        nodes = cluster.docker.nodes
        position = 1 + int(pick * (len(nodes) - 1))  # not the first manager: the Swarm keeps one
        node = nodes[position]
        role = "worker" if node["Spec"]["Role"] == "manager" else "manager"
        cluster.docker.set_role(now, position, role)
        host = cluster.vault_key(node)
        cluster.add(j.RoleChanged(now, host, manager=role == "manager"))
        cluster.add(j.Listed(now, host))  # the sim's listing is the Swarm's own: it shows the node at once

    return act, "a node promoted or demoted"


def node_join(cluster: Cluster, rng: random.Random) -> Fault:
    """A node joins the Swarm (`docker swarm join`), as a worker or as a manager; its Vault is sealed."""
    manager = rng.random() < 0.5

    def act() -> None:
        now = cluster.sim.now()
        node = cluster.docker.add_node(now, "manager" if manager else "worker")
        host = cluster.vault_key(node)
        cluster.vaults[host] = SimVault(node["Description"]["Hostname"], cluster.shares, THRESHOLD, 0.0)
        if manager:
            cluster.add(j.RoleChanged(now, host, manager=True))
            cluster.add(j.Listed(now, host))

    return act, f"a node joins the Swarm as a {'manager' if manager else 'worker'}"


def node_leave(cluster: Cluster, rng: random.Random) -> Fault:
    """A worker leaves the Swarm (`docker node rm`: a manager is demoted first, by role_change)."""
    pick = rng.random()

    def act() -> None:
        nodes = cluster.docker.nodes
        workers = [index for index, node in enumerate(nodes) if node["Spec"]["Role"] == "worker"]
        if workers:
            cluster.docker.remove_node(cluster.sim.now(), workers[int(pick * len(workers))])

    return act, "a worker leaves the Swarm"


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
        cluster.lives.stopping.add(service.name)
        service.terminate()
        wait(now + STOP_TIMEOUT, service)

    def wait(kill_at: float, service: SimService) -> None:
        now = cluster.sim.now()
        if service.running and now < kill_at:
            cluster.sim.schedule(now + STEP, lambda: wait(kill_at, service))
            return
        if service.running:
            cluster.kill(service)
        else:
            cluster.lives.killed(now, service.name)
        cluster.say(now, "FAULT", f"{service.name} exited; its container starts again {delay:.2f} s later")
        cluster.restarting.discard(service.name)
        cluster.restart_later(service, delay)

    cluster.faults.append(f"{when:7.3f} a rolling update: SIGTERM of the active instance")
    cluster.sim.schedule(when, act)


FAULT_KINDS: tuple[Callable[[Cluster, random.Random], Fault], ...] = (
    kill,
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
    node_join,
    node_leave,
    settings_change,
    docker_hang,
)
KIND_NAMES = tuple(sorted({kind.__name__ for kind in FAULT_KINDS}))


def sweep(seeds: range, swarm_testing: bool = True) -> tuple[list[Result], float]:
    """Run `seeds`; the results and the seconds it took."""
    started = time.monotonic()
    results = [run_seed(seed, swarm_testing) for seed in seeds]
    return results, time.monotonic() - started
