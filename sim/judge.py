"""One judge for simulated and real runs: a History of what the servers received and accepted and what the instances
said, and the invariants as functions of it.

Pure: no I/O, no clock, no threads. The simulator (sim/cluster.py) records a History as it runs and feeds each record
to a `Judge` as it is recorded (and lets it look at the clock every `Bounds.every` seconds); a real-stack test
(tests/integration/test_judge.py) records one from OpenBao's audit log, the services' log lines and Consul, and
judges it with `judge(history, bounds)`, which runs the same `Judge` over the whole History.

Times are seconds on one clock (the simulated one, or seconds since a real run's start). Records are fed in time
order (`judge` sorts them, stably); an instance, a Vault or a lock owner is named by a string.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from neon_cm.definition import with_nodes
from neon_cm.handover import LISTING_ACTORS
from neon_cm.monitoring import escalation_seconds

# ---------------------------------------------------------------------------------------------------- the records


@attrs.frozen
class Written:
    """A definition write Consul ACCEPTED, by `writer`, while `holder` held the lock (None: nobody)."""

    t: float
    writer: str
    holder: str | None
    key: str


@attrs.frozen
class ShareReceived:
    """An unseal share as the Vault `vault` RECEIVED it, from `sender` (None: a client that is no instance)."""

    t: float
    vault: str
    sender: str | None


@attrs.frozen
class ResetReceived:
    """An unseal reset (`{"reset": true}`) as the Vault received it: it discards what another unsealer gave."""

    t: float
    vault: str
    sender: str | None


@attrs.frozen
class LockAcquired:
    """`owner`'s session `session` acquired the lock."""

    t: float
    owner: str
    session: str


@attrs.frozen
class LockLost:
    """`owner`'s session lost the lock. `cause`: "" its TTL check expired, "released" it released it; anything else
    is an abrupt loss (its check deregistered, its session destroyed, Consul lost its data, the key deleted): news
    its Leadership cannot have yet."""

    t: float
    owner: str
    session: str
    cause: str = ""


@attrs.frozen
class LeaseTold:
    """What `instance`'s Leadership told its subscribers: its session holds the lock until `valid_until`."""

    t: float
    instance: str
    session: str
    valid_until: float


@attrs.frozen
class ActorStarted:
    """An actor started (for the first time in its container, or after it was removed)."""

    t: float
    instance: str
    actor: str


@attrs.frozen
class ActorRestarted:
    """Its supervisor started an actor again (a new incarnation where an old one stood)."""

    t: float
    instance: str
    actor: str


@attrs.frozen
class ActorDied:
    """An actor crashed or was stopped with its supervisor; `supervisors`: its supervisors, nearest first."""

    t: float
    instance: str
    actor: str
    supervisors: tuple[str, ...] = ()


@attrs.frozen
class ActorRemoved:
    """An actor stopped for good (its supervisor no longer supervises it)."""

    t: float
    instance: str
    actor: str


@attrs.frozen
class RestartScheduled:
    """A supervisor decided (at `t`) to restart a dead child after its backoff (`delay`, when known: the restart is
    due within it + Bounds.restart)."""

    t: float
    instance: str
    actor: str
    delay: float = 0.0


@attrs.frozen
class RestartCancelled:
    """A restart a supervisor had scheduled is no longer due (it ran, or the supervisor let it go)."""

    t: float
    instance: str
    actor: str


@attrs.frozen
class HealthNamed:
    """`instance`'s health names `actor` as dead (its top supervisor gave up on it): health is red."""

    t: float
    instance: str
    actor: str


@attrs.frozen
class MonitorsWanted:
    """The Vaults whose monitors `instance`'s running fleet wants (none while its fleet is dead)."""

    t: float
    instance: str
    vaults: tuple[str, ...]
    """The monitors' names (`vault-monitor:<name>`: the manager's hostname, with its node ID while shared)."""
    hosts: tuple[str, ...] | None = None
    """The same Vaults as the world and the judge know them (`Sealed`, `ErrorLogged`): the host of each one's URL, its
    node's address under http://{addr}:8200 (long-run seed 2843: keyed by the monitors' names, no Vault of such a seed
    was ever seen watched). None: the names are the hosts (a hand-built history)."""


@attrs.frozen
class ContainerRestarted:
    """`instance`'s process started again from nothing (every actor, and what it knew, is new)."""

    t: float
    instance: str


@attrs.frozen
class ContainerExited:
    """`instance`'s process is gone (stopped, killed): none of its actors runs until its container starts again."""

    t: float
    instance: str


@attrs.frozen
class Paused:
    """`instance` runs nothing from `t` until `until` (SIGSTOP, a stalled VM)."""

    t: float
    instance: str
    until: float


@attrs.frozen
class Sealed:
    """The Vault became sealed (it restarted, or started sealed)."""

    t: float
    vault: str


@attrs.frozen
class Unsealed:
    """The Vault became unsealed."""

    t: float
    vault: str


@attrs.frozen
class Unreadable:
    """The Vault answers nothing readable (hangs, or garbage) until `until`: no monitor can see it is sealed."""

    t: float
    vault: str
    until: float


@attrs.frozen
class RoleChanged:
    """The Vault's node became a manager (`manager`) or stopped being one."""

    t: float
    vault: str
    manager: bool


@attrs.frozen
class Listed:
    """An instance's listing showed the Vault's node as a manager (since its last role change)."""

    t: float
    vault: str


@attrs.frozen
class ErrorLogged:
    """`instance` said at ERROR that the Vault `vault` has a problem (sealed, unreachable)."""

    t: float
    instance: str
    vault: str
    standby: bool = False
    """The line is a standby's escalation (neon_cm/monitoring.py: `standing by, but sealed for N s`)."""


@attrs.frozen
class SeenUnsealed:
    """`instance`'s monitor saw the Vault unsealed: its report of a problem is over."""

    t: float
    instance: str
    vault: str


@attrs.frozen
class KeysRefused:
    """`instance`'s Unsealer said at ERROR that the unseal keys do not unseal the Vault."""

    t: float
    instance: str
    vault: str


@attrs.frozen
class PollsSet:
    """The poll intervals in force from `t` (the settings)."""

    t: float
    node_poll: float
    vault_poll: float


@attrs.frozen
class OwnDockerFails:
    """`instance`'s own Docker fails (hangs, refuses) from `t` to the end; the definition must follow the Swarm
    (through a fit standby) counting from `follow_from` (None: not asked)."""

    t: float
    instance: str
    follow_from: float | None = None


@attrs.frozen
class HolderLoops:
    """`instance`, holding the lock, has its SwarmWatcher die as it starts from `t` for a while (a long crash loop)
    and a standby can list: the definition must follow the Swarm through that standby within `bound` of
    `follow_from` (the instance counts the deaths as failed listings and hands the lock over, neon_cm/handover.py)."""

    t: float
    instance: str
    follow_from: float
    bound: float


@attrs.frozen
class SwarmChanged:
    """The Swarm's nodes changed (a label, a role); `nodes` is the definition's `Nodes` they make (None: nodes share a
    hostname, and the service publishes no definition of them)."""

    t: float
    nodes: Mapping[str, Any] | None = attrs.field(eq=False)


@attrs.frozen
class BaseWritten:
    """Cluster setup wrote the base definition `base` (the definition without the Swarm's nodes)."""

    t: float
    base: Mapping[str, Any] = attrs.field(eq=False)


@attrs.frozen
class DefinitionStored:
    """What Consul held at `t`: the definition (decoded; None: no key) and the hash key's value."""

    t: float
    definition: Mapping[str, Any] | None = attrs.field(eq=False)
    hash: str | None = None


@attrs.frozen
class StandingReady:
    """At `t` (the end of a run, the faults long over): the instances running, and those that hold a valid session of
    their own in Consul (Consul's sessions, by the instance that created them), and the lock holder."""

    t: float
    running: tuple[str, ...]
    with_session: tuple[str, ...]
    holder: str | None


@attrs.frozen
class CanLead:
    """From `t`, the instances that can take the lock as far as the world goes: the process runs, was not told to stop
    (a stopping instance takes no lock), and reaches Consul (not cut off it). Whether their Leadership runs is the
    judge's to know (ActorDied). A history without it (a real-stack run) judges a free lock as if any could."""

    t: float
    instances: tuple[str, ...]


@attrs.frozen
class ConsulTroubled:
    """At `t` Consul did not answer as it should: down or hung, refusing the service's token, holding an election, its
    agent out of the cluster (serfHealth critical), a proxy's index quirk."""

    t: float


@attrs.frozen
class ActedUnderLease:
    """A decision to act under the lock, as the deciding actor of `instance` took it at `t`: a definition write, an
    unseal share or a reset (`what`), with the deadline of the lease it acted under as that decider saw it (the
    publisher's `valid_until`, 0 when it did not lead; a share's or a reset's `not_after`)."""

    t: float
    instance: str
    what: str
    until: float


Record = (
    Written
    | ShareReceived
    | ResetReceived
    | LockAcquired
    | LockLost
    | LeaseTold
    | ActorStarted
    | ActorRestarted
    | ActorDied
    | ActorRemoved
    | RestartScheduled
    | RestartCancelled
    | HealthNamed
    | MonitorsWanted
    | ContainerRestarted
    | ContainerExited
    | Paused
    | Sealed
    | Unsealed
    | Unreadable
    | RoleChanged
    | Listed
    | ErrorLogged
    | SeenUnsealed
    | KeysRefused
    | PollsSet
    | OwnDockerFails
    | HolderLoops
    | SwarmChanged
    | BaseWritten
    | DefinitionStored
    | StandingReady
    | ConsulTroubled
    | CanLead
    | ActedUnderLease
)


class History:
    """An append-only list of records."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._records: list[Record] = list(records)

    def append(self, record: Record) -> None:
        self._records.append(record)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def of(self, kind: type) -> list[Any]:
        """The records of one kind, in order."""
        return [record for record in self._records if isinstance(record, kind)]


# ---------------------------------------------------------------------------------------------------- the verdicts


@attrs.frozen
class Finding:
    """An invariant the history breaks, and how."""

    invariant: str
    text: str
    t: float


NEVER_TWO_UNSEALERS = "never two unsealers"
NEVER_A_STALE_WRITER = "never a stale writer"
LEASE_HELD = "a lease told is a lease held"
ALWAYS_REPORTED = "always reported"
NOTHING_DEAD_UNSEEN = "nothing dead unseen"
CONVERGES = "converges"
SAID_ONCE = "said once"
FOLLOWS_THE_SWARM = "follows the Swarm"
FOLLOWING = frozenset({"leadership", "definition"})
"""The top supervisor's children an instance follows the Swarm with: one given up on (health red until Docker
replaces the container) makes the instance no fit standby."""
LISTING_SIDE = FOLLOWING | {"swarm-watcher", "definition-publisher"}
"""The actors an instance lists the Swarm and writes the definition with: while one is dead (a crash loop, its
supervisor's backoff) the instance neither sees its own Docker fail nor writes what it lists, so the definition's clock
(`follows_the_swarm`) runs from its restart + a listing timeout (the end of that fault). Except the lock holder's
SwarmWatcher and definition side (`Judge.fails_listing`): their deaths are failed listings to it."""
TAKEN_OVER = "a free lock is taken"
WITHIN_LEASE = "acts only within its lease"
NO_FALSE_REFUSAL = "keys refused only when they are"
GIVEN_UP = "a crash loop is given up on"
INVARIANTS = (
    NEVER_TWO_UNSEALERS,
    NEVER_A_STALE_WRITER,
    LEASE_HELD,
    ALWAYS_REPORTED,
    NOTHING_DEAD_UNSEEN,
    CONVERGES,
    SAID_ONCE,
    FOLLOWS_THE_SWARM,
    TAKEN_OVER,
    WITHIN_LEASE,
    NO_FALSE_REFUSAL,
    GIVEN_UP,
)


@attrs.frozen
class Bounds:
    """The stated bounds the invariants are judged with."""

    check_ttl: float
    """The lock's check TTL: an abrupt loss since the pass a told lease counts from (`check_ttl - 1` before its
    deadline, the lease's margin) is news its Leadership cannot have yet."""
    vault_poll: float
    """The Vault poll interval in force at the start (PollsSet changes it; the longest ever set counts)."""
    report_margin: float
    """A sealed Vault is reported at ERROR within 2 x the longest Vault poll + this of its clock."""
    restart: float
    """A dead actor is running again (or named by health) within this of its death, or of the restart its supervisor
    decided (the backoff it said: `on_scheduled`)."""
    node_poll: float = 0.0
    reminder: float = math.inf
    """An Unsealer says at ERROR that the keys do not unseal a Vault at most once per this."""
    unsealable: bool = True
    """The credentials hold enough valid shares: every manager's Vault ends unsealed."""
    docker_timeout: float = 10.0
    follow_margin: float = 3.5
    every: float = 0.5
    """How often `judge` looks at the time-based invariants (between records)."""
    takeover: float = math.inf
    """A free lock is taken within this once nothing stands in the way: Consul answering as it should (no
    ConsulTroubled), no instance paused or restarting since (see `Judge.free_since`)."""
    lease_margin: float = 1.0
    """A lease ends this long before its check can expire (neon_cm/lease.MARGIN_SECONDS): no other instance can take
    the lock before a told deadline + this, so a share on its way when the deadline passed may still arrive safely
    until then."""
    intensity: tuple[int, float] | None = None
    """The supervisors' restart intensity (production's: 5 restarts in 60 s, actors/supervisor.py): an actor that
    died more than that many times within that many seconds, under one life of its supervisors, was given up on
    within `restart` of its last death (its supervisor died, escalating, or health names it). None: not judged."""


class Judge:
    """The invariants, fed one record at a time (in time order), looking at the clock with `look`, and at the end
    with `finish`. Each returns the findings it made (an invariant broken once is not reported again)."""

    def __init__(self, bounds: Bounds, invariants: Iterable[str] = INVARIANTS) -> None:
        self.bounds = bounds
        self.invariants = frozenset(invariants)
        self.broken: set[str] = set()
        self.now = 0.0
        # the lock and the leases
        self.leases: dict[str, list[tuple[float, float]]] = {}
        """Per instance: (when, deadline) of every lease its Leadership told."""
        self.valid_until: dict[str, float] = {}
        self.acquired: list[LockAcquired] = []
        self.acquired_by: dict[str, list[LockAcquired]] = {}
        self.lost_by: dict[str, list[LockLost]] = {}
        self.holder: LockAcquired | None = None
        self.free_since: float | None = 0.0
        """Since when no session holds the lock (None: one does)."""
        self.calm_from = 0.0
        """Nothing stood in a takeover's way since then: Consul answered as it should, no instance was paused or
        started again."""
        self.can_lead: tuple[str, ...] | None = None
        """The instances the world lets take the lock (CanLead); None: not known, any can."""
        self.able_since: float | None = 0.0
        """Since when some instance could take the lock without a break (its Leadership running too); None: none can
        now."""
        # reporting
        self.sealed_since: dict[str, float] = {}
        self.unreadable_until: dict[str, float] = {}
        self.managers: set[str] = set()
        self.listed_at: dict[str, float] = {}
        self.reported: dict[str, set[str]] = {}
        """Per Vault: the instances that said at ERROR it has a problem, while their monitor has not seen it
        unsealed since (a Vault unsealed and sealed again between two polls is still the same report)."""
        self.said_by_gone: set[str] = set()
        """The Vaults said at ERROR by a process since replaced (its container restarted) while sealed: as for a
        reporter that lost the lock, the new reporter must say it, counted from when it became the one to."""
        self.escalated: dict[str, set[str]] = {}
        """Per Vault: the standbys (their line a standby's escalation, or not the reporter when they said it) that said
        at ERROR it lasts longer than the active instance needs (neon_cm/monitoring.py's escalation), while their
        monitor has not seen it unsealed since: a report whoever holds the lock."""
        self.reporter_since = 0.0
        """When the instance holding a lease now began its lease run (a standby that took over): a problem only
        another instance (no longer the reporter) said at ERROR is its to say, counted from then."""
        self.disturbed: dict[str, float] = {}
        """Per instance: when it was last disturbed while it was the reporter (it held a lease told, or none did):
        paused (counted from its resumption), its container restarted, its Leadership, fleet or a monitor restarted.
        A standby's disturbance does not count: the active instance reports meanwhile."""
        self.resumes: list[tuple[float, str, bool]] = []
        """Pauses still to end: (until, instance, whether it was the reporter when paused)."""
        self.started_again: dict[str, float] = {}
        """Per instance: when it was last disturbed, whatever its role (see `disturbed`): the standbys' clock when the
        reporter does not monitor a Vault (`always_reported`)."""
        self.unlisted: dict[str, float] = {}
        """Per instance whose container restarted and whose new fleet has wanted no monitor yet: when it restarted
        (the earliest a standby not watching yet can start to: `standbys_watching`)."""
        self.longest_vault_poll = bounds.vault_poll
        self.node_poll = bounds.node_poll
        self.own_docker: dict[str, float] = {}
        self.follow_from: float | None = None
        self.follow_bound: float | None = None
        """The bound `follows_the_swarm` judges with when a setup states one (HolderLoops); None: the Docker one."""
        self.holder_watcher_back: tuple[str, float] = ("", -math.inf)
        """The lock holder whose SwarmWatcher (or definition side) last started again after a death, and when."""
        self.listing_side_back = -math.inf
        """When an actor of an instance's listing side (LISTING_SIDE) last started again after a death: the end of a
        crash loop, which may last past the other faults (a long crash loop, 32-40 s: seeds 5176 and 5191)."""
        self.instances: set[str] = set()
        """Every instance an actor of which started (the standbys `follows_the_swarm` looks for among them)."""
        self.exited: set[str] = set()
        """The instances whose process is gone (ContainerExited) and whose container has not started again."""
        self.listing_since: float | None = 0.0
        """Since when some instance could list the Swarm, its vault-fleet running, without a break (`can_list`); None:
        none can now. A manager no fleet monitors is news only a listing into a running fleet brings (long-run seed
        11656, sweep seed 50202)."""
        # actors
        self.dead: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}
        self.pauses: dict[str, list[tuple[float, float]]] = {}
        self.gave_up: dict[str, set[str]] = {}
        self.scheduled: dict[tuple[str, str], float] = {}
        self.wanted: dict[str, tuple[str, ...]] = {}
        self.wanted_ever = False
        """Whether any MonitorsWanted was recorded (a hand-built history has none): `wanted` empties again when every
        instance's container restarted (long-run seed 7685), which is not the same."""
        self.watching_since: dict[tuple[str, str], float] = {}
        """Per (instance, Vault): since when the instance's running fleet has wanted that Vault's monitor (from
        MonitorsWanted; a history without any, as a hand-built one, leaves it empty: see `reporter_watching`)."""
        self.unwatched: dict[str, float] = {}
        """Per Vault: when `always_reported` last found no instance expected to report monitoring it (its standbys'
        to say then): the reporter's clock starts after."""
        self.keys_refused: dict[tuple[str, str], float] = {}
        self.crashes: dict[tuple[str, str], tuple[tuple[float, ...], tuple[str, ...]]] = {}
        """Per actor: its deaths within the intensity window since its supervisors last started, and its supervisors."""
        self.loops: dict[tuple[str, str], tuple[float, float, int]] = {}
        """Crash loops past the intensity still to be given up on: (first death counted, last death, deaths)."""
        # the definition
        self.base: Mapping[str, Any] | None = None
        self.nodes: Mapping[str, Any] | None = None
        self.swarm_changed = -math.inf
        self.stored: DefinitionStored | None = None

    # ------------------------------------------------------------------ verdicts

    def owner(self) -> str | None:
        """The instance that holds the lock as Consul last said, if one does."""
        return self.holder.owner if self.holder is not None else None

    def found(self, invariant: str, text: str, findings: list[Finding]) -> None:
        if invariant in self.invariants and invariant not in self.broken:
            self.broken.add(invariant)
            findings.append(Finding(invariant, text, self.now))

    def feed(self, record: Record) -> list[Finding]:
        """Take one record: what it breaks, if anything."""
        findings: list[Finding] = []
        self.advance(record.t)
        handler = HANDLERS.get(type(record))
        if handler is not None:
            handler(self, record, findings)
        self.listing_from(record.t)
        return findings

    def advance(self, t: float) -> None:
        self.now = max(self.now, t)
        while self.resumes and self.resumes[0][0] <= self.now:
            until, instance, was_reporter = self.resumes.pop(0)
            self.started_again[instance] = until
            if was_reporter or self.reporter(instance, until):
                self.disturbed[instance] = until

    # ------------------------------------------------------------------ the lock and the leases

    def lease_at(self, instance: str, when: float) -> float:
        """The deadline of `instance`'s lease in force at `when`: the last one told by then, or told since but counting
        from a pass made by then (`check_ttl - 1` before its deadline). A lock acquired before an abrupt loss, its
        answer coming late, is told after the loss (long-run seed 8302 of 6ddc47d: i1's acquisition at 8.182 answered
        at 9.003, its session destroyed at 8.285 meanwhile); a lease counted from a later pass is an extension the loss
        does not excuse."""
        earned = [
            until
            for at, until in self.leases.get(instance, [])
            if at <= when or until - (self.bounds.check_ttl - 1.0) <= when
        ]
        return earned[-1] if earned else 0.0

    def on_acquired(self, record: LockAcquired, findings: list[Finding]) -> None:
        self.acquired.append(record)
        self.acquired_by.setdefault(record.owner, []).append(record)
        self.holder = record
        self.free_since = None

    def on_lost(self, record: LockLost, findings: list[Finding]) -> None:
        self.lost_by.setdefault(record.owner, []).append(record)
        if self.holder is not None and (self.holder.owner, self.holder.session) == (record.owner, record.session):
            self.holder = None
            self.free_since = record.t

    def on_troubled(self, record: ConsulTroubled, findings: list[Finding]) -> None:
        self.calm_from = max(self.calm_from, record.t)

    def taken_over(self, findings: list[Finding]) -> None:
        """A free lock is taken: once the lock is free and nothing stands in the way (Consul answers as it should, no
        instance paused or started again since), a standby takes it within `Bounds.takeover` (neon_cm/lease.py: a
        standby tries the lock every 0.5 s; the service creates its sessions with no lock-delay, which Consul would
        otherwise apply for 15 s after a holder's session is invalidated). Only while some instance can take it: one
        whose process runs, not told to stop, reaching Consul, with its Leadership running (seed 6053 of the long run:
        the active cut off Consul, then told SIGTERM, the only other instance's Leadership dying at every start); the
        clock starts again when one can."""
        self.able_from(self.now)
        if self.free_since is None or self.able_since is None:
            return
        since = max(self.free_since, self.calm_from, self.able_since)
        if self.now - since > self.bounds.takeover:
            self.found(
                TAKEN_OVER,
                f"no instance holds the lock at {self.now:.3f}: free since {self.free_since:.3f}, nothing in the way "
                f"since {since:.3f} (bound {self.bounds.takeover:g} s)",
                findings,
            )

    def able_to_lead(self) -> bool:
        """Whether an instance can take the lock now: one let by the world (CanLead) whose Leadership is neither dead
        nor given up on. A history that says nothing of it (a real-stack run) lets every instance."""
        if self.can_lead is None:
            return True
        return any(
            (instance, "leadership") not in self.dead and "leadership" not in self.gave_up.get(instance, set())
            for instance in self.can_lead
        )

    def able_from(self, t: float) -> None:
        """Keep `able_since` (at every record that can change it, and at every look)."""
        if not self.able_to_lead():
            self.able_since = None
        elif self.able_since is None:
            self.able_since = t

    def on_can_lead(self, record: CanLead, findings: list[Finding]) -> None:
        self.can_lead = record.instances
        self.able_from(record.t)

    def on_unseal_request(self, record: ShareReceived | ResetReceived, findings: list[Finding]) -> None:
        """Never two unsealers: a share (or a reset) reaches a Vault only before the sender's lease deadline + the
        lease's margin (sent before the deadline, it may still be on its way; the lock cannot be lost before the check
        expires, a margin after the deadline), and never after another instance acquired the lock (since the sender
        did).

        Exception (the real world cannot do better): when Consul released the sender's lock abruptly (its check
        deregistered, its session destroyed, Consul restarted without its data), another instance may take the lock
        while the sender's deadline has not passed yet; the sender's shares before the deadline its lease had at
        that moment + the margin (one written before that deadline may still be on its way, as above: long-run seed
        898 of d52477d, a share 0.77 s slow to come in) are not counted (a lease extended after it is not; one
        counting from a pass before it but told after it is that moment's: `lease_at`)."""
        sender, now = record.sender, record.t
        if sender is None:
            return  # someone else's: not one of the instances judged
        what = "a share" if isinstance(record, ShareReceived) else "a reset"
        until = self.valid_until.get(sender, 0.0)
        if now >= until + self.bounds.lease_margin:
            self.found(
                NEVER_TWO_UNSEALERS,
                f"the Vault on {record.vault} received {what} from {sender} at {now:.3f}; its lease ended at "
                f"{until:.3f} (+ the margin {self.bounds.lease_margin:g} s)",
                findings,
            )
            return
        # The lock's last acquisition as of the receipt: a receipt is recorded on its sender's task, so a sender paused
        # with its request on the way is heard late, after acquisitions that came later (long-run seed 4161 of
        # 6ddc47d: i1's reset came in at 5.801, heard after i3 took the lock at 8.258).
        last = next((acquired for acquired in reversed(self.acquired) if acquired.t <= now), None)
        if last is None or last.owner == sender:
            return
        own = [acquired for acquired in self.acquired_by.get(sender, []) if acquired.t <= now]
        since = own[-1].t if own else -math.inf
        abrupt = [
            lost
            for lost in self.lost_by.get(sender, [])
            if lost.cause not in ("", "released") and since <= lost.t <= last.t
        ]
        if not any(now < self.lease_at(sender, lost.t) + self.bounds.lease_margin for lost in abrupt):
            self.found(
                NEVER_TWO_UNSEALERS,
                f"the Vault on {record.vault} received {what} from {sender} at {now:.3f}; {last.owner} took the lock "
                f"at {last.t:.3f}",
                findings,
            )

    def on_lease(self, record: LeaseTold, findings: list[Finding]) -> None:
        """A lease told is a lease held: when Leadership tells a deadline still to come, its session holds the lock
        at that moment. Exception: an abrupt loss since the pass the lease counts from (at most the margin'd TTL
        ago) is news Leadership cannot have yet."""
        if self.valid_until.get(record.instance, 0.0) <= record.t < record.valid_until:
            self.reporter_since = record.t  # a new lease run: this instance is the one to report from now on
        self.valid_until[record.instance] = record.valid_until
        self.leases.setdefault(record.instance, []).append((record.t, record.valid_until))
        if record.valid_until <= record.t:
            return  # a deadline already past claims nothing
        holder = self.holder
        if holder is not None and (holder.owner, holder.session) == (record.instance, record.session):
            return
        since = record.valid_until - (self.bounds.check_ttl - 1.0)
        if any(
            lost.cause not in ("", "released") and lost.t >= since for lost in self.lost_by.get(record.instance, [])
        ):
            return
        self.found(
            LEASE_HELD,
            f"{record.instance} told a lease until {record.valid_until:.3f} at {record.t:.3f}; its session "
            f"{record.session} holds no lock",
            findings,
        )

    def on_acted(self, record: ActedUnderLease, findings: list[Finding]) -> None:
        """Acts only within its lease: each decider that acts under the lock (the publisher's write, the Unsealer's
        share or reset) decides to only while the lease it was told lasts. Consul's fence (the write's check of the
        lock's session) and the gateway's `not_after` stand behind that promise; judging the deciders' own promise
        keeps a backup from hiding a hole in the check in front of it."""
        if record.t >= record.until:
            self.found(
                WITHIN_LEASE,
                f"{record.instance} decided {record.what} at {record.t:.3f}; the lease it acted under ended at "
                f"{record.until:.3f}",
                findings,
            )

    def on_written(self, record: Written, findings: list[Finding]) -> None:
        """Never a stale writer: every definition write Consul accepts comes from the lock holder of that moment."""
        if record.holder != record.writer:
            self.found(
                NEVER_A_STALE_WRITER,
                f"{record.writer} wrote {record.key} at {record.t:.3f}; the lock holder: {record.holder}",
                findings,
            )

    # ------------------------------------------------------------------ reporting

    def reporter(self, instance: str, t: float) -> bool:
        """Whether `instance` is the one expected to report at `t`: it holds a lease told, or no instance does."""
        active = [name for name, until in self.valid_until.items() if until > t]
        return not active or instance in active

    def disturb(self, instance: str, t: float) -> None:
        self.started_again[instance] = t
        if self.reporter(instance, t):
            self.disturbed[instance] = t

    def on_paused(self, record: Paused, findings: list[Finding]) -> None:
        self.calm_from = max(self.calm_from, record.until)
        self.pauses.setdefault(record.instance, []).append((record.t, record.until))
        self.resumes.append((record.until, record.instance, self.reporter(record.instance, record.t)))
        self.resumes.sort()

    def on_container(self, record: ContainerRestarted, findings: list[Finding]) -> None:
        self.exited.discard(record.instance)
        self.calm_from = max(self.calm_from, record.t)
        if self.follow_from is not None and self.gave_up.get(record.instance, set()) & FOLLOWING:
            # A standby that could not follow (health red, Docker replacing it) is fit again: the fault that kept
            # it unfit ends now, and the definition's clock starts again a listing timeout later ("their end").
            self.follow_from = max(self.follow_from, record.t + self.bounds.docker_timeout)
        self.disturb(record.instance, record.t)
        self.dead = {key: value for key, value in self.dead.items() if key[0] != record.instance}
        self.scheduled = {key: value for key, value in self.scheduled.items() if key[0] != record.instance}
        self.gave_up.pop(record.instance, None)
        self.able_from(record.t)
        self.wanted.pop(record.instance, None)
        self.unlisted[record.instance] = record.t
        self.crashes = {key: value for key, value in self.crashes.items() if key[0] != record.instance}
        self.loops = {key: value for key, value in self.loops.items() if key[0] != record.instance}
        self.watching_since = {key: t for key, t in self.watching_since.items() if key[0] != record.instance}
        self.keys_refused = {key: value for key, value in self.keys_refused.items() if key[0] != record.instance}
        # What the old process said at ERROR is not what the new one says: it must say a Vault still sealed again
        # (its reminders died with the old process).
        for vault, said in self.reported.items():
            if record.instance in said:
                said.discard(record.instance)
                self.said_by_gone.add(vault)  # the new reporter's clock starts when it became the one (below)
        for said in self.escalated.values():
            said.discard(record.instance)

    def on_exited(self, record: ContainerExited, findings: list[Finding]) -> None:
        self.exited.add(record.instance)

    def on_sealed(self, record: Sealed, findings: list[Finding]) -> None:
        self.sealed_since.setdefault(record.vault, record.t)

    def on_unsealed(self, record: Unsealed, findings: list[Finding]) -> None:
        self.sealed_since.pop(record.vault, None)
        self.said_by_gone.discard(record.vault)

    def on_unreadable(self, record: Unreadable, findings: list[Finding]) -> None:
        self.unreadable_until[record.vault] = max(self.unreadable_until.get(record.vault, 0.0), record.until)

    def on_role(self, record: RoleChanged, findings: list[Finding]) -> None:
        if record.manager:
            self.managers.add(record.vault)
        else:
            self.managers.discard(record.vault)
        self.listed_at.pop(record.vault, None)  # watched once a listing shows it

    def on_listed(self, record: Listed, findings: list[Finding]) -> None:
        self.listed_at.setdefault(record.vault, record.t)

    def on_error(self, record: ErrorLogged, findings: list[Finding]) -> None:
        self.reported.setdefault(record.vault, set()).add(record.instance)
        # A standby's escalation is one whenever it is said: also while no lease is told (seed 2289: the holder's lease
        # lapsed for 0.5 s), when `reporter` takes every instance for the reporter.
        if record.standby or not self.reporter(record.instance, record.t):
            self.escalated.setdefault(record.vault, set()).add(record.instance)

    def on_seen_unsealed(self, record: SeenUnsealed, findings: list[Finding]) -> None:
        self.reported.get(record.vault, set()).discard(record.instance)
        self.escalated.get(record.vault, set()).discard(record.instance)

    def on_polls(self, record: PollsSet, findings: list[Finding]) -> None:
        self.longest_vault_poll = max(self.longest_vault_poll, record.vault_poll)
        self.node_poll = record.node_poll

    def on_holder_loops(self, record: HolderLoops, findings: list[Finding]) -> None:
        self.follow_from, self.follow_bound = record.follow_from, record.bound

    def on_own_docker(self, record: OwnDockerFails, findings: list[Finding]) -> None:
        self.own_docker.setdefault(record.instance, record.t)
        if record.follow_from is not None:
            self.follow_from = record.follow_from

    def always_reported(self, findings: list[Finding]) -> None:
        """Always reported: a sealed Vault is reported at ERROR by at least one instance (a standby reports at INFO,
        unless it saw the Vault sealed for longer than the active instance needs: `escalated`, which counts whoever
        holds the lock) within two polls (the longest interval set) + the margin of its clock, also during a Consul
        outage (an outage longer than the bound breaks it). The clock starts at the latest of: the seal, the reporter's
        last disturbance (per instance, see `disturbed`), the end of the Vault's unreadable answers (what a monitor
        cannot read, it cannot report as sealed), the first listing showing the node as a manager, and when an instance
        expected to report began to monitor it (`reporter_watching`); for a node promoted while one instance's own
        Docker fails, the moment an instance that can list took the lock (a standby reports at INFO). While no instance
        expected to report monitors it (its fleet dead or restarting, no listing yet: it cannot report what it does not
        monitor), the standbys must say it at ERROR within the bound + their threshold
        (neon_cm/monitoring.escalation_seconds) of the seal, the end of its unreadable answers, its listing or the
        moment the standby watching it longest began to watch it undisturbed (`standbys_watching`; with no standby
        watching it, since an instance can list the Swarm, and not while none can)."""
        now = self.now
        clock = max(self.disturbed.values(), default=0.0)
        bound = 2 * self.longest_vault_poll + self.bounds.report_margin
        for vault in sorted(self.managers):
            sealed = self.sealed_since.get(vault)
            listed = self.listed_at.get(vault)
            if sealed is None or listed is None:
                continue  # a manager no instance has listed yet is not watched yet
            since = max(sealed, clock, self.unreadable_until.get(vault, 0.0), listed)
            if self.own_docker and listed >= min(self.own_docker.values()):
                holder = self.owner()
                if holder is None or holder in self.own_docker:
                    continue
                taken = self.acquired_by.get(holder, [])
                since = max(since, taken[-1].t if taken else since)
            if any(self.reporter(instance, now) for instance in self.reported.get(vault, ())):
                continue
            if self.escalated.get(vault):
                continue  # a standby said it at ERROR (the active instance did not, or could not)
            # Said at ERROR only by instances that are no longer the reporter (the active that paused or died, then
            # lost the lock): the new reporter must say it, counted from when it became the one to.
            said = self.reported.get(vault) or vault in self.said_by_gone
            since = max(since, self.reporter_since) if said else since
            watching = self.reporter_watching(vault, now)
            limit = bound
            if watching is None:
                # No instance expected to report monitors it: the standbys, which do, say it at ERROR once it lasted
                # past their threshold from their first sight (a poll at most after the seal, within `bound`).
                self.unwatched[vault] = now
                standbys = self.standbys_watching(vault, now)
                if standbys is None:
                    continue  # no instance can list the Swarm: none can learn of this manager (seed 11656)
                since = max(sealed, self.unreadable_until.get(vault, 0.0), listed, standbys)
                limit = bound + escalation_seconds(self.longest_vault_poll)
            else:
                since = max(since, watching, self.unwatched.get(vault, 0.0))
            if now - since > limit:
                self.found(
                    ALWAYS_REPORTED,
                    f"the Vault on {vault} is sealed since {since:.3f}; no instance said so at ERROR",
                    findings,
                )

    # ------------------------------------------------------------------ actors

    def on_started(self, record: ActorStarted | ActorRestarted, findings: list[Finding]) -> None:
        self.instances.add(record.instance)
        key = (record.instance, record.actor)
        self.dead.pop(key, None)
        self.scheduled.pop(key, None)
        for child, (_, chain) in list(self.dead.items()):
            if child[0] == record.instance and record.actor in chain:
                self.dead[child] = (record.t, chain)  # a supervisor (re)started: it starts its children now
        if record.actor == "unsealer":  # a new Unsealer knows nothing of what the last one said
            self.keys_refused = {k: v for k, v in self.keys_refused.items() if k[0] != record.instance}
        if isinstance(record, ActorRestarted) and record.actor in LISTING_ACTORS and record.instance == self.owner():
            self.holder_watcher_back = (record.instance, record.t)
        if isinstance(record, ActorRestarted) and record.actor in LISTING_SIDE and not self.fails_listing(record):
            self.listing_side_back = max(self.listing_side_back, record.t)
        if isinstance(record, ActorRestarted) and (
            record.actor in ("leadership", "vault-fleet") or record.actor.startswith("vault-monitor:")
        ):
            self.disturb(record.instance, record.t)
        self.able_from(record.t)

    def fails_listing(self, record: ActorRestarted) -> bool:
        """A restart of the lock holder's SwarmWatcher (or of its definition side) is a failed listing to it
        (neon_cm/handover.py): a crash loop makes it hand the lock to a fit standby as a failing Docker does, so the
        definition's clock does not wait for the loop to end. A standby's restart still does: it is no fit standby
        until it lists again."""
        if record.instance != self.owner():
            return False
        if record.actor in LISTING_ACTORS:
            return True
        # The publisher comes after the SwarmWatcher in its rest-for-one group: restarted with it, part of that death.
        instance, at = self.holder_watcher_back
        return record.actor == "definition-publisher" and instance == record.instance and record.t - at <= 1.0

    def on_died(self, record: ActorDied, findings: list[Finding]) -> None:
        key = (record.instance, record.actor)
        self.count_death(record)
        if key not in self.dead:
            self.dead[key] = (record.t, record.supervisors)
        # what a supervisor had scheduled dies with it
        self.scheduled = {
            child: at
            for child, at in self.scheduled.items()
            if child[0] != record.instance or record.actor not in self.dead_supervisors(child)
        }
        self.able_from(record.t)

    def dead_supervisors(self, child: tuple[str, str]) -> tuple[str, ...]:
        entry = self.dead.get(child)
        return entry[1][:1] if entry else ()

    def on_removed(self, record: ActorRemoved, findings: list[Finding]) -> None:
        self.dead.pop((record.instance, record.actor), None)
        self.crashes.pop((record.instance, record.actor), None)
        self.loops.pop((record.instance, record.actor), None)
        self.scheduled.pop((record.instance, record.actor), None)
        self.able_from(record.t)

    def on_scheduled(self, record: RestartScheduled, findings: list[Finding]) -> None:
        self.scheduled[(record.instance, record.actor)] = record.t + record.delay

    def on_cancelled(self, record: RestartCancelled, findings: list[Finding]) -> None:
        self.scheduled.pop((record.instance, record.actor), None)

    def on_health(self, record: HealthNamed, findings: list[Finding]) -> None:
        self.gave_up.setdefault(record.instance, set()).add(record.actor)
        self.able_from(record.t)

    def on_wanted(self, record: MonitorsWanted, findings: list[Finding]) -> None:
        # A monitor its fleet did not want is not dead (stopped as its manager was demoted, or with its fleet): wanted
        # again, its start is due from now. Counted from its stop, a manager demoted and promoted again more than the
        # bound later was found dead before its fleet could start it (long-run seed 11684: 9.5 s apart).
        before = self.wanted.get(record.instance, ())
        for name in record.vaults:
            key = (record.instance, f"vault-monitor:{name}")
            if name not in before and key in self.dead:
                self.dead[key] = (record.t, self.dead[key][1])
        self.wanted[record.instance] = record.vaults
        self.wanted_ever = True
        hosts = record.vaults if record.hosts is None else record.hosts
        self.watching_since = {
            (instance, vault): t
            for (instance, vault), t in self.watching_since.items()
            if instance != record.instance or vault in hosts
        }
        for vault in hosts:
            self.watching_since.setdefault((record.instance, vault), record.t)
        if hosts:
            self.unlisted.pop(record.instance, None)

    def reporter_watching(self, vault: str, t: float) -> float | None:
        """Since when an instance expected to report at `t` has had `vault`'s monitor wanted by its running fleet
        (the earliest); None when none has (its fleet dead or restarting, or nothing listed yet): the active instance
        cannot report what it does not monitor. Without any MonitorsWanted (a hand-built history), always 0 (not
        when every container restarted since: then none watches it, long-run seed 7685)."""
        if not self.wanted_ever:
            return 0.0
        times = [
            since
            for (instance, name), since in self.watching_since.items()
            if name == vault and not self.standing_by(instance, t)
        ]
        return min(times, default=None)

    def standing_by(self, instance: str, t: float) -> bool:
        """Whether `instance` stands by at `t` (says a sealed Vault at INFO until its threshold): another holds a
        lease told, or no lease is told while the lock is still held in Consul by another (the holder's lease lapsed a
        moment: the others stand by for the holder and say it at INFO; only the holder is expected to report, seed
        428: the new process of the holder ran no monitor, its settings crash-looping, and its standbys said it past
        their threshold; long-run seed 2843: judged as no standby then, the standbys' threshold counted from the
        seal the moment the holder's lease lapsed)."""
        holder = self.owner()
        if holder is not None and not any(until > t for until in self.valid_until.values()):
            return instance != holder
        return not self.reporter(instance, t)

    def standbys_watching(self, vault: str, t: float) -> float | None:
        """Since when a standby has watched `vault` undisturbed (the earliest of them): its monitor wanted by its
        running fleet, and the instance not paused, restarted or with its fleet or monitor restarted since. A
        standby's threshold counts from its own first sight: one started again later than the seal cannot say it
        sooner (seed 2695: the only standby's container restarted 11 s after the seal, while the holder's fleet was in a
        crash loop). When no standby watches it, a standby whose container restarted and whose new fleet has wanted no
        monitor yet (its first listing under way, its own Docker not failing) cannot see it before its restart: the
        earliest such restart (long-run seed 2843: the only standby's escalation forgotten with its old process, its
        new fleet listed 0.1 s later; a look in between counted from the seal). When there is none either, since some
        instance could list the Swarm into a running fleet (`listing_since`: 0 when one always could, counted from the
        seal), and None while none can: a manager no fleet monitors is news only a listing brings (long-run seed 11656:
        the holder's SwarmWatcher in a long crash loop, the only standby's own Docker hung; a manager joined meanwhile
        was counted from the seal, as if a standby had listed it; sweep seed 50202: the holder listing, its vault-fleet
        in a crash loop)."""
        times = [
            max(since, self.started_again.get(instance, 0.0), self.former_reporter(instance, vault))
            for (instance, name), since in self.watching_since.items()
            if name == vault and self.standing_by(instance, t)
        ]
        if not times:
            times = [
                at for instance, at in self.unlisted.items() if self.standing_by(instance, t) and self.lists(instance)
            ]
        return min(times, default=self.listing_since)

    def lists(self, instance: str) -> bool:
        """Whether `instance` can list the Swarm as far as the history tells: its process runs (long-run seed 1642 of
        629a812: the only instance that could list was gone 2.9 s for a rolling update, its old process's ERROR
        forgotten with it, and its clock ran from the seal), its own Docker does not fail, and its SwarmWatcher is not
        dead (a crash loop, its supervisor's backoff) nor given up on with its supervisor (health red until Docker
        replaces the container)."""
        if instance in self.own_docker or instance in self.exited or (instance, "swarm-watcher") in self.dead:
            return False
        return not {"swarm-watcher", "definition"} & self.gave_up.get(instance, set())

    def can_list(self) -> bool:
        """Whether some instance can list the Swarm now (`lists`) and monitor what it lists (its vault-fleet running):
        only such an instance can learn of a manager no fleet monitors and say it is sealed. One whose fleet is dead
        is no such source (sweep seed 50202: the holder listed the manager, its vault-fleet in a 36 s crash loop, while
        the only standby's own Docker hung and the stored definition named no manager, two nodes sharing a
        hostname). A history that names no instance can."""
        known = self.instances | set(self.wanted) | set(self.acquired_by) | set(self.own_docker)
        return not known or any(self.lists(instance) and self.fleet_runs(instance) for instance in known)

    def fleet_runs(self, instance: str) -> bool:
        """Whether `instance`'s vault-fleet runs as far as the history tells: not dead (a crash loop, its supervisor's
        backoff) nor given up on with its supervisor."""
        if (instance, "vault-fleet") in self.dead:
            return False
        return not {"vault-fleet", "vault"} & self.gave_up.get(instance, set())

    def listing_from(self, t: float) -> None:
        """Keep `listing_since` (at every record: a SwarmWatcher dying as it starts runs for no time)."""
        if not self.can_list():
            self.listing_since = None
        elif self.listing_since is None:
            self.listing_since = t

    def former_reporter(self, instance: str, vault: str) -> float:
        """When a standby that said `vault` at ERROR as the reporter (or knowing no active instance) began to stand
        by for the current holder: its monitor starts its standby period when told it stands by (seed 428: the
        holder's new process ran no monitor, its settings crash-looping, and its standbys, the former reporters, said
        it past their threshold counted from there). 0 for a standby that did not say it so."""
        return self.reporter_since if instance in self.reported.get(vault, ()) else 0.0

    def paused(self, instance: str, t: float) -> bool:
        return any(start <= t < until for start, until in self.pauses.get(instance, []))

    def paused_for(self, instance: str, start: float, end: float) -> float:
        """How long `instance` was paused between `start` and `end` (pauses over by `end`)."""
        return sum(
            max(0.0, min(until, end) - max(begun, start))
            for begun, until in self.pauses.get(instance, [])
            if until <= end
        )

    def nothing_dead_unseen(self, findings: list[Finding]) -> None:
        """Nothing dead unseen: every actor that died is running again within the bound (counted from the last
        restart its supervisor decided for it, after that restart's backoff when the record says it: a sibling's
        later crash can fold it into a group restart), or the instance's health names it (or a supervisor above it).
        An actor whose supervisor (or an actor above) is dead too is that one's to restart: it is judged, and the
        clock of those below starts again when it is started again. A paused instance's time does not count. Exception:
        a monitor stopped with its fleet while the restarted fleet does not want it (it learns the managers from the
        next listing; health compares the fleet's wanted monitors with the live ones); wanted again, it is due from
        then (`on_wanted`)."""
        now, bound = self.now, self.bounds.restart
        for (instance, actor), (died, supervisors) in sorted(self.dead.items()):
            if self.paused(instance, now):
                continue
            if now - died - self.paused_for(instance, died, now) <= bound:
                continue
            named = self.gave_up.get(instance, set())
            if actor in named or any(supervisor in named for supervisor in supervisors):
                continue
            if any((instance, supervisor) in self.dead for supervisor in supervisors):
                continue  # a supervisor above it is dead: judged itself, and restarts it with itself
            if self.scheduled.get((instance, actor), -math.inf) >= now - bound:
                continue  # a group restart decided since: its backoff counts
            if actor.startswith("vault-monitor:") and actor.removeprefix("vault-monitor:") not in self.wanted.get(
                instance, ()
            ):
                continue  # stopped with its fleet (dead, or restarted and not knowing that manager yet)
            self.found(
                NOTHING_DEAD_UNSEEN,
                f"{instance}/{actor} dead since {died:.3f}, not restarted, health is green",
                findings,
            )

    def count_death(self, record: ActorDied) -> None:
        """A crash loop is given up on: count the actor's deaths within the intensity window. A supervisor's death
        (escalating, or stopped with its own) ends the count of every actor below it: its next life starts with no
        restarts counted, as neon_cm/supervision.py's state does."""
        if self.bounds.intensity is None:
            return
        restarts, seconds = self.bounds.intensity
        for child, (_, chain) in list(self.crashes.items()):
            if child[0] == record.instance and record.actor in chain:
                del self.crashes[child]
                self.loops.pop(child, None)
        key = (record.instance, record.actor)
        # The supervisor counts the restart it decided a few ms after the death: a second less keeps the count inside.
        before = self.crashes.get(key, ((), ()))[0]
        deaths = (*(t for t in before if record.t - t < seconds - 1.0), record.t)
        self.crashes[key] = (deaths, record.supervisors)
        if len(deaths) > restarts and key not in self.loops:
            self.loops[key] = (deaths[0], record.t, len(deaths))

    def crash_loops_given_up(self, findings: list[Finding]) -> None:
        """A crash loop is given up on (issue 26's intensity-bound): an actor that died more times than its
        supervisor's restart intensity allows within its window (production's: a sixth death within 60 s, about 31 s
        into a loop at 1 s doubling backoff) under one life of its supervisors, is given up on within the restart
        bound of that death: its supervisor dies (escalates, so its parent decides) or health names it (or a
        supervisor above it). `nothing dead unseen` cannot see a supervisor that restarts it forever, each restart
        within its backoff: the loop would be hidden from health for good. A paused instance's time does not count; a
        monitor its fleet no longer wants is not looping (removed, not restarted)."""
        if self.bounds.intensity is None:
            return
        restarts, seconds = self.bounds.intensity
        now, bound = self.now, self.bounds.restart
        for (instance, actor), (first, last, deaths) in sorted(self.loops.items()):
            if self.paused(instance, now) or now - last - self.paused_for(instance, last, now) <= bound:
                continue
            named = self.gave_up.get(instance, set())
            chain = self.crashes.get((instance, actor), ((), ()))[1]
            if actor in named or any(supervisor in named for supervisor in chain):
                continue
            if actor.startswith("vault-monitor:") and actor.removeprefix("vault-monitor:") not in self.wanted.get(
                instance, ()
            ):
                continue
            self.found(
                GIVEN_UP,
                f"{instance}/{actor} died {deaths} times from {first:.3f} to {last:.3f}, past its supervisor's "
                f"intensity ({restarts} restarts in {seconds:g} s); no supervisor gave up on it and health does not "
                "name it",
                findings,
            )

    def on_keys_refused(self, record: KeysRefused, findings: list[Finding]) -> None:
        """Said once: an Unsealer says at ERROR that the keys do not unseal a Vault at most once per reminder period
        (a restarted Unsealer, or another instance, may say it again), not at every poll."""
        if self.bounds.unsealable:
            # Keys refused only when they are: the credentials hold enough of the cluster's shares, so every
            # combination refused is a false alarm telling the operator to replace keys that work (another client's
            # wrong share in our attempt was once taken for ours: the `another client attempt` setup). No exception
            # for a Vault restarted since the keys were given (there was one until seed 4914, keyed by the Vault's
            # host, which never matched the service's name for it under `{addr}`): the Unsealer gives a combination
            # that only stalled once more before counting it against the keys, so one restart no longer says it.
            self.found(
                NO_FALSE_REFUSAL,
                f"{record.instance} said at {record.t:.3f} that the keys do not unseal the Vault on {record.vault}; "
                "the credentials hold enough of its shares",
                findings,
            )
        key = (record.instance, record.vault)
        said = self.keys_refused.get(key)
        if said is not None and record.t - said < self.bounds.reminder:
            self.found(
                SAID_ONCE,
                f"{record.instance} said again at {record.t:.3f} ({said:.3f} before) that the keys do not unseal the "
                f"Vault on {record.vault}",
                findings,
            )
        self.keys_refused[key] = record.t

    # ------------------------------------------------------------------ the definition

    def on_swarm(self, record: SwarmChanged, findings: list[Finding]) -> None:
        if self.nodes is not None:
            self.swarm_changed = record.t
        self.nodes = record.nodes

    def on_base(self, record: BaseWritten, findings: list[Finding]) -> None:
        self.base = record.base

    def on_stored(self, record: DefinitionStored, findings: list[Finding]) -> None:
        self.stored = record

    def follows_the_swarm(self, findings: list[Finding]) -> None:
        """Follows the Swarm: with one instance's Docker failing and another that can list (a fit standby), the
        definition in Consul is the Swarm's within the bound (two node polls and two listing timeouts, a lock step
        of each instance, a listing and a write, and the margin) of the later of `follow_from`, the Swarm's last
        change and the last restart of an actor of an instance's listing side + a listing timeout (a crash loop's end:
        until then the failing instance makes no listing that could fail, or a standby writes nothing it lists).
        Judged on the latest DefinitionStored."""
        if self.follow_from is None or self.nodes is None:
            return
        listing = self.instances - set(self.own_docker)
        if listing and all(self.gave_up.get(instance, set()) & FOLLOWING for instance in listing):
            # No fit standby: every instance that can list has its Leadership or definition side given up on (health
            # red, Docker's health check replacing its container; on_container starts the clock again).
            return
        b = self.bounds
        start = max(self.follow_from, self.listing_side_back + b.docker_timeout, self.swarm_changed)
        bound = 2 * (max(self.node_poll, b.node_poll) + b.docker_timeout) + 1.0 + 0.5 + b.follow_margin
        if self.follow_bound is not None:
            bound = self.follow_bound
        if self.now - start <= bound:
            return
        stored = self.stored.definition if self.stored is not None else None
        if stored is None or stored.get("Nodes") != self.nodes:
            holder = self.owner()
            self.found(
                FOLLOWS_THE_SWARM,
                f"the definition in Consul is not the Swarm's {self.now - start:.1f} s after {start:.3f}; the lock "
                f"holder: {holder}; failing Docker: {sorted(self.own_docker)}",
                findings,
            )

    # ------------------------------------------------------------------ the clock and the end

    def look(self, t: float) -> list[Finding]:
        """Look at the time-based invariants at `t`."""
        findings: list[Finding] = []
        self.advance(t)
        self.nothing_dead_unseen(findings)
        self.crash_loops_given_up(findings)
        self.always_reported(findings)
        self.follows_the_swarm(findings)
        self.taken_over(findings)
        return findings

    def on_ready(self, record: StandingReady, findings: list[Finding]) -> None:
        """Converges: at the end every running instance stands ready (its check passing, a session of its own: one
        holds the lock, the others can take it over at once). An instance whose check or session is gone for good
        (a peer's clean-up, the agent's restart) registers it again; one that keeps failing is no standby. Exception: an
        instance health names an actor of (HealthNamed), left for Docker's health check to restart."""
        if not record.running:
            return
        if record.holder not in record.running:
            self.found(CONVERGES, f"at {record.t:.3f} no running instance holds the lock ({record.holder})", findings)
        # An instance whose health names an actor (its top supervisor gave up) is unhealthy: Docker's health check
        # restarts its container; until then it is not asked to stand ready.
        unready = sorted(
            set(record.running) - set(record.with_session) - {i for i, named in self.gave_up.items() if named}
        )
        if unready:
            self.found(
                CONVERGES,
                f"at {record.t:.3f} {', '.join(unready)} holds no Consul session: not ready to take the lock over",
                findings,
            )

    def finish(self, t: float) -> list[Finding]:
        """Converges: once faults stop, at the end the definition in Consul is the Swarm's on cluster setup's
        latest base, its hash key matches it, and every manager's Vault is unsealed when the credentials can
        unseal it (Bounds.unsealable)."""
        findings: list[Finding] = []
        self.advance(t)
        self.broken.discard(CONVERGES)  # judged again at a later end (a run extended)
        if CONVERGES not in self.invariants:
            return findings
        stored = self.stored.definition if self.stored is not None else None
        if self.base is not None and self.nodes is not None:
            if stored is None:
                self.found(CONVERGES, "no definition in Consul", findings)
                return findings
            expected = with_nodes(dict(self.base), dict(self.nodes))
            if {key: value for key, value in stored.items() if key != "Hash"} != expected:
                text = repr(dict(stored))
                text = text if len(text) <= 300 else text[:297] + "..."
                self.found(
                    CONVERGES, f"the definition in Consul is not the Swarm's on the latest base: {text}", findings
                )
                return findings
            if self.stored is None or self.stored.hash != stored.get("Hash"):
                self.found(CONVERGES, "the hash key does not match the definition", findings)
                return findings
        if self.bounds.unsealable:
            for vault in sorted(self.managers):
                if vault in self.sealed_since:
                    self.found(CONVERGES, f"the Vault on {vault} is still sealed", findings)
                    return findings
        return findings


HANDLERS: dict[type, Callable[[Judge, Any, list[Finding]], None]] = {
    Written: Judge.on_written,
    StandingReady: Judge.on_ready,
    ConsulTroubled: Judge.on_troubled,
    CanLead: Judge.on_can_lead,
    ShareReceived: Judge.on_unseal_request,
    ResetReceived: Judge.on_unseal_request,
    LockAcquired: Judge.on_acquired,
    LockLost: Judge.on_lost,
    LeaseTold: Judge.on_lease,
    ActorStarted: Judge.on_started,
    ActorRestarted: Judge.on_started,
    ActorDied: Judge.on_died,
    ActorRemoved: Judge.on_removed,
    RestartScheduled: Judge.on_scheduled,
    RestartCancelled: Judge.on_cancelled,
    HealthNamed: Judge.on_health,
    MonitorsWanted: Judge.on_wanted,
    ContainerRestarted: Judge.on_container,
    ContainerExited: Judge.on_exited,
    Paused: Judge.on_paused,
    Sealed: Judge.on_sealed,
    Unsealed: Judge.on_unsealed,
    Unreadable: Judge.on_unreadable,
    RoleChanged: Judge.on_role,
    Listed: Judge.on_listed,
    ErrorLogged: Judge.on_error,
    SeenUnsealed: Judge.on_seen_unsealed,
    KeysRefused: Judge.on_keys_refused,
    PollsSet: Judge.on_polls,
    OwnDockerFails: Judge.on_own_docker,
    HolderLoops: Judge.on_holder_loops,
    SwarmChanged: Judge.on_swarm,
    BaseWritten: Judge.on_base,
    DefinitionStored: Judge.on_stored,
    ActedUnderLease: Judge.on_acted,
}


# ---------------------------------------------------------------------------------------------------- the functions


def judge(
    history: Iterable[Record], bounds: Bounds, end: float | None = None, invariants: Iterable[str] = INVARIANTS
) -> list[Finding]:
    """Every finding of `invariants` on `history`: its records fed in time order, the time-based invariants looked
    at every `bounds.every` seconds (at its multiples) up to and at `end` (default: the last record), and, when `end` is
    given, the end ones (converges) at `end`."""
    judge_ = Judge(bounds, invariants)
    records = sorted(history, key=lambda record: record.t)
    last = end if end is not None else (records[-1].t if records else 0.0)
    findings: list[Finding] = []
    tick = bounds.every
    for record in records:
        while tick < record.t:
            findings += judge_.look(tick)
            tick += bounds.every
        findings += judge_.feed(record)
    while tick <= last:
        findings += judge_.look(tick)
        tick += bounds.every
    if end is not None:
        findings += judge_.finish(end)
    return findings


def never_two_unsealers(history: Iterable[Record], bounds: Bounds) -> list[Finding]:
    """Shares AND resets, counted as each Vault received them (see Judge.on_unseal_request)."""
    return judge(history, bounds, invariants=(NEVER_TWO_UNSEALERS,))


def never_a_stale_writer(history: Iterable[Record], bounds: Bounds) -> list[Finding]:
    """Every definition write Consul accepted came from the lock holder of that moment (Judge.on_written)."""
    return judge(history, bounds, invariants=(NEVER_A_STALE_WRITER,))


def a_lease_told_is_a_lease_held(history: Iterable[Record], bounds: Bounds) -> list[Finding]:
    """Judge.on_lease."""
    return judge(history, bounds, invariants=(LEASE_HELD,))


def always_reported(history: Iterable[Record], bounds: Bounds, end: float | None = None) -> list[Finding]:
    """Judge.always_reported, looked at every `bounds.every` seconds up to `end`."""
    return judge(history, bounds, end, invariants=(ALWAYS_REPORTED,))


def nothing_dead_unseen(history: Iterable[Record], bounds: Bounds, end: float | None = None) -> list[Finding]:
    """Judge.nothing_dead_unseen, looked at every `bounds.every` seconds up to `end`."""
    return judge(history, bounds, end, invariants=(NOTHING_DEAD_UNSEEN,))


def converges(history: Iterable[Record], bounds: Bounds, end: float) -> list[Finding]:
    """Judge.finish at `end`."""
    return judge(history, bounds, end, invariants=(CONVERGES,))


def said_once(history: Iterable[Record], bounds: Bounds) -> list[Finding]:
    """Judge.on_keys_refused."""
    return judge(history, bounds, invariants=(SAID_ONCE,))


def holder_at(history: Iterable[Record], t: float) -> str | None:
    """The lock's holder at `t` as the history's LockAcquired and LockLost tell it (for a recorder that knows a
    write's time but not who held the lock then)."""
    holder: LockAcquired | None = None
    for record in sorted(history, key=lambda record: record.t):
        if record.t > t:
            break
        if isinstance(record, LockAcquired):
            holder = record
        elif isinstance(record, LockLost) and holder is not None:
            if (holder.owner, holder.session) == (record.owner, record.session):
                holder = None
    return holder.owner if holder is not None else None
