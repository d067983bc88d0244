"""One simulated service instance: its actors wired as messages.routes.WIRING wires them, its supervision, its
pauses; the components that tell the sim how to run each actor's decider."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from messages.docker import DockerUnreachable, ListNodes, NodesListed
from messages.leadership import BecameLeader, LeaseExtended
from messages.lifecycle import SupervisionGaveUp
from messages.log import Level
from messages.routes import WIRING
from messages.settings import Settings
from messages.swarm import NodesObserved, SwarmNode
from messages.vault import VaultObserved, VaultState, VaultsToMonitor
from neon_cm.credentials import Secret
from neon_cm.decider import Decision, Publish, StartTimer, log
from neon_cm.encoding import decode_definition, definition_hash
from neon_cm.fleet import Fleet, ReadStoredManagers, StartMonitor, StopMonitor, TellMonitors
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY
from neon_cm.lease import Lease, Start, Stop
from neon_cm.listing import SwarmListing
from neon_cm.monitoring import AskUnsealer, MonitorStarted, Probe, Probed, UnsealerAbsent, VaultMonitoring
from neon_cm.publishing import Publishing, StoredBase
from neon_cm.supervision import (
    AddChild,
    Begin,
    Child,
    ChildDied,
    Escalate,
    LogCrash,
    RemoveChild,
    StartChild,
    StopChildren,
    Strategy,
    Supervision,
)
from neon_cm.unsealing import (
    AnswerMonitor,
    CancelAttempt,
    ReadSealStatus,
    ReadSwitch,
    ResetProgress,
    SubmitShare,
    SwitchRead,
    SwitchUnreadable,
    Unsealing,
    VaultAnswered,
)
from neon_cm.vault import NotSent, Unreachable, UnreachableKind
from sim import standin
from sim.gateways import CONSUL_TIMEOUT, Call, ConsulCalls, HungConsul, VaultCalls
from sim.shell import Component, SimActor, short

if TYPE_CHECKING:
    from sim.world import World

#: The Vault URL template the instances run with (a manager's Vault by its hostname).
TEMPLATE = "https://{hostname}:8200"


class Instance:
    """A service instance: actors by name, its supervision tree, who hears whom, whether the process is paused."""

    #: The static tree (neon_cm_main.service_tree): (child, supervisor), in start order. Metrics is left out
    #: (the sim reads health from the supervisors), NodeEvents too (the sim tells node events to the watcher).
    tree = (
        ("leadership", "service"),
        ("settings", "service"),
        ("vault", "service"),
        ("definition", "service"),
        ("unsealer", "vault"),
        ("vault-fleet", "vault"),
        ("swarm-watcher", "definition"),
        ("definition-publisher", "definition"),
    )

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.name = name
        self.actors: dict[str, SimActor] = {}
        self.parent: dict[str, str | None] = {}
        self.keys: dict[str, str] = {}
        """A supervisor's child key to the actor's name (they differ for monitors only)."""
        self.specs: dict[str, Component] = {}
        self.paused_until = 0.0
        self.paused_from = 0.0
        self.gave_up: list[str] = []
        self.delivered: dict[tuple[str, str], float] = {}
        self.consul = ConsulCalls(world.consul, name, old_check_answers=1 in world.old)
        self.consul.on_write = world.definition_written
        self.poisoned: dict[str, float] = {}
        """Actors that die as they start, until when (a crash-loop fault)."""
        self.generation = 0
        """How many times the container was restarted."""
        self.static: dict[str, Callable[[], Component]] = {
            "leadership": lambda: LeadershipComponent(self),
            "settings": lambda: SettingsComponent(self),
            "vault": lambda: SupervisorComponent(self, "vault", Strategy.ONE_FOR_ONE, True),
            "definition": lambda: SupervisorComponent(self, "definition", Strategy.REST_FOR_ONE, True),
            "unsealer": lambda: OldUnsealerComponent(self) if world.old & {5, 11} else UnsealerComponent(self),
            "vault-fleet": lambda: FleetComponent(self),
            "swarm-watcher": lambda: ListingComponent(self),
            "definition-publisher": lambda: PublisherComponent(self),
        }

    def restart_process(self, generation: int) -> None:
        """The container is restarted (SIGTERM: every actor stops, Leadership gives the lock up), then the
        service starts again from nothing."""
        if generation != self.generation:
            return
        self.generation += 1
        self.world.record(self.name, "--", "the container restarts (health is red)", ())
        self.world.disturbed(self)
        service = self.actors.get("service")
        if service is not None:
            service.end("the container stops", crashed=False)
        for actor in list(self.actors.values()):
            actor.end("the container stops", crashed=False)
        self.actors.clear()
        self.parent.clear()
        self.keys.clear()
        self.specs.clear()
        self.gave_up = []
        self.delivered.clear()
        wire(self)

    # ------------------------------------------------------------------ time (a paused process runs nothing)

    def at(self, when: float, action: Callable[[], None]) -> None:
        def step() -> None:
            if self.world.loop.now < self.paused_until:
                self.world.loop.at(self.paused_until, step)
            else:
                action()

        self.world.loop.at(when, step)

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        self.at(self.world.loop.now + seconds, action)

    def soon(self, action: Callable[[], None]) -> None:
        self.at(self.world.loop.now, action)

    def pause(self, seconds: float) -> None:
        now = self.world.loop.now
        self.paused_from, self.paused_until = now, max(self.paused_until, now + seconds)

    def resumed(self) -> None:
        """After a pause, a dead actor's clock (nothing dead unseen) does not count the time paused."""
        for actor in self.actors.values():
            if actor.died_at is not None:
                actor.died_at += self.paused_until - max(self.paused_from, actor.died_at)

    # ------------------------------------------------------------------ the tree

    def add(self, component: Component, parent: str | None) -> SimActor:
        """Start an actor (a new one: its decider state is fresh)."""
        actor = SimActor(self, component)
        self.actors[component.name] = actor
        self.parent[component.name] = parent
        actor.start()
        started = getattr(component, "started", None)
        if callable(started):
            started(actor)
        if self.world.loop.now < self.poisoned.get(component.name, 0.0):
            # A bug that kills it as it starts (its constructor raising): it dies at once, every time.
            incarnation = actor.incarnation
            self.soon(lambda: actor.crash("injected: dies as it starts") if actor.incarnation == incarnation else None)
        return actor

    def name_of(self, key: str) -> str:
        return self.keys.get(key, key)

    def start_child(self, supervisor: str, key: str) -> None:
        component = self.specs[key] if key in self.specs else self.static[key]()
        self.keys[key] = component.name
        old = self.actors.get(component.name)
        if old is not None and old.alive:
            self.halt(old.name, removed=True)
        self.add(component, supervisor)
        if old is not None:
            self.world.restarted(self, self.actors[component.name])

    def halt(self, name: str, removed: bool) -> None:
        """Stop an actor on purpose (a group restart, a monitor no longer wanted): its cleanup runs, its children
        stop with it; no death is told. `removed`: it is not coming back (no dead-actor clock)."""
        actor = self.actors.get(name)
        if actor is None:
            return
        actor.end("stopped", crashed=False)
        if removed:
            del self.actors[name]

    def children_of(self, name: str) -> list[str]:
        return [child for child, parent in self.parent.items() if parent == name and child in self.actors]

    def child_exited(self, actor: SimActor, why: str) -> None:
        """A crash: the parent supervisor hears ChildDied (a linked helper's death kills its owner instead)."""
        parent = self.parent.get(actor.name)
        if parent is None:
            return
        owner = self.actors.get(parent)
        if owner is None or not owner.alive:
            return
        if isinstance(owner.component, SupervisorComponent):
            key = next((key for key, name in self.keys.items() if name == actor.name), actor.name)
            owner.deliver(ChildDied(key, why), owner.incarnation)
        else:
            owner.crash(f"LinkedDied: {actor.name} died: {why}")

    def restart_due(self, name: str, since: float) -> bool:
        """Whether its supervisor decided its restart (started the timer it waits on) at or after `since`: a later
        crash of a sibling (rest-for-one) puts an actor already waiting into the group's restart, after the
        group's backoff."""
        supervisor = self.actors.get(self.parent.get(name) or "")
        if supervisor is None or not supervisor.alive or not isinstance(supervisor.state, Supervision):
            return False
        key = next((key for key, actor in self.keys.items() if actor == name), name)
        timer = supervisor.state.pending.get(key)
        return timer is not None and timer in supervisor.timers and supervisor.timer_set.get(timer, -1.0) >= since

    def monitor_wanted(self, name: str) -> bool:
        """Whether the running fleet wants this monitor (a fleet restarted knows the managers from its next listing;
        health compares its VaultsToMonitor with the live monitors)."""
        fleet = self.actors.get("vault-fleet")
        if fleet is None or not fleet.alive:
            return False  # the fleet's own death is what is checked then: its monitors come back with it
        return name.removeprefix("vault-monitor:") in fleet.state.hostnames()

    def tell_supervisor(self, name: str, event: Any) -> None:
        supervisor = self.actors.get(name)
        if supervisor is not None and supervisor.alive:
            supervisor.deliver(event, supervisor.incarnation)

    def seen_dead(self, name: str) -> bool:
        """Health names it: it, or a supervisor above it, was given up by the top supervisor."""
        current: str | None = name
        while current is not None:
            if current in self.gave_up:
                return True
            current = self.parent.get(current)
        return False

    # ------------------------------------------------------------------ messages

    @staticmethod
    def kind(name: str) -> str:
        return name.split(":", 1)[0]

    def sources(self, name: str) -> list[SimActor]:
        kind = self.kind(name)
        return [
            actor
            for actor in self.actors.values()
            if actor.alive and kind in WIRING.get(self.kind(actor.name), ()) and actor.name != name
        ]

    def publish(self, source: SimActor, message: Any) -> None:
        world = self.world
        if source.name == "leadership":
            world.lease_told(self, message)
        if isinstance(message, NodesObserved):
            world.listed(message)
        elif isinstance(message, VaultObserved):
            world.observed(self, message)
        if isinstance(message, SupervisionGaveUp):
            if not self.gave_up:
                # Health turns red: Docker's health check restarts the container (the service's HEALTHCHECK).
                self.world.loop.after(CONTAINER_RESTART_SECONDS, partial(self.restart_process, self.generation))
            self.gave_up.append(message.actor)
        for name in WIRING.get(self.kind(source.name), ()):
            actor = self.actors.get(name)
            if actor is not None and actor.alive:
                self.send(source.name, actor, message)

    def send(self, sender: str, actor: SimActor, message: Any) -> None:
        """Tell `actor` `message` after a seeded delay, in order per sender and receiver (pykka's mailboxes)."""
        world = self.world
        if world.dropping(self, actor.name):
            world.record(self.name, actor.name, f"DROPPED {short(message)}", ())
            return
        pair = (sender, actor.name)
        when = max(world.loop.now + world.message_delay(), self.delivered.get(pair, 0.0))
        self.delivered[pair] = when
        incarnation = actor.incarnation
        self.at(when, lambda: actor.deliver(message, incarnation))

    def send_to(self, sender: str, name: str, message: Any) -> bool:
        actor = self.actors.get(name)
        if actor is None or not actor.alive:
            return False
        self.send(sender, actor, message)
        return True


# --------------------------------------------------------------------------- components


class LeadershipComponent(Component):
    """actors/leadership.py over neon_cm/lease.py's Lease."""

    name = "leadership"
    start_event = Start()
    stop_event = Stop()

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> Lease:
        # A restarted Leadership is a new instance name (actors/leadership.instance_name's random tag).
        return Lease(f"{self.instance.name}:{self.instance.world.rng.getrandbits(16):04x}")

    def call(self, effect: Any) -> Call | None:
        return self.instance.consul.call(effect)

    def cleanup(self, effects: tuple[Any, ...]) -> tuple[Any, ...]:
        if 3 in self.instance.world.old:
            # Before issue 17 (defect 3), the cleanup released the lock and told no one.
            return tuple(effect for effect in effects if not isinstance(effect, Publish))
        return effects


@attrs.frozen
class OldPublishing(Publishing):
    """The publisher's old behaviours, on the new decider: the decoded base cached by ModifyIndex alone (defect 7),
    and a BecameLeader ignored while it already leads, keeping a dead session (defect 3)."""

    old: frozenset[int] = frozenset()

    def decide(self, event: object, now: float) -> Decision[Publishing]:
        if 3 in self.old and isinstance(event, BecameLeader) and self.leading:
            return self, ()
        if 3 in self.old and isinstance(event, LeaseExtended) and event.session != self.session:
            return self, ()  # the old publisher knew no lease: nothing but BecameLeader made it take a session
        return super().decide(event, now)

    def decoded(self, item_index: int, value: bytes) -> tuple[Publishing, dict[str, Any], bool]:
        if 7 not in self.old:
            return super().decoded(item_index, value)
        if self.stored is not None and self.stored.index == item_index:
            return self, self.stored.definition, self.stored.hash_is_its_own
        definition = decode_definition(value)
        own = definition.get("Hash") == definition_hash(definition)
        return attrs.evolve(self, stored=StoredBase(item_index, b"", definition, own)), definition, own


class PublisherComponent(Component):
    """actors/definition_publisher.py over neon_cm/publishing.py's Publishing."""

    name = "definition-publisher"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> Publishing:
        old = frozenset(self.instance.world.old & {3, 7})
        return OldPublishing(old=old) if old else Publishing()

    def call(self, effect: Any) -> Call | None:
        return self.instance.consul.call(effect)


class SettingsComponent(Component):
    """The SettingsWatcher, standing in (sim/standin.SettingsSource): short polls, a Vault URL per hostname."""

    name = "settings"
    start_event = standin.Started()

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> standin.SettingsSource:
        world = self.instance.world
        return standin.SettingsSource(Settings(world.node_poll, world.vault_poll, TEMPLATE))


class ListingComponent(Component):
    """actors/swarm_watcher.py over neon_cm/listing.py's SwarmListing."""

    name = "swarm-watcher"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> SwarmListing:
        return SwarmListing()

    def view(self, actor: SimActor) -> list[Any]:
        return [] if actor.state.last is None else [actor.state.last]

    def call(self, effect: Any) -> Call | None:
        docker = self.instance.world.docker
        if isinstance(effect, ListNodes):
            world, name = self.instance.world, self.instance.name

            def listed(now: float) -> Any:
                if world.own_docker_fault(name, now) == "refuses":
                    return DockerUnreachable("ConnectionError: connection refused")
                reply = docker.list_nodes(now)
                return NodesListed(tuple(SwarmNode.from_docker(node) for node in reply.body))

            # The server named per instance: one instance's Docker may hang alone (world.hung).
            return Call(listed, f"docker:{name}", 10.0, DockerUnreachable("ReadTimeout: read timed out"))
        return None


class FleetComponent(Component):
    """actors/vault_fleet.py over neon_cm/fleet.py's Fleet; its monitors run under a supervisor of its own."""

    name = "vault-fleet"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> Fleet:
        return Fleet()

    def view(self, actor: SimActor) -> list[Any]:
        return [VaultsToMonitor(actor.state.hostnames())]

    def call(self, effect: Any) -> Call | None:
        if isinstance(effect, ReadStoredManagers):
            consul = self.instance.consul
            hung = HungConsul(f"reading {effect.prefix}*")
            return Call(lambda now: consul.read_definition(now, effect.prefix), "consul", CONSUL_TIMEOUT, hung)
        return None

    def started(self, actor: SimActor) -> None:
        # The fleet's monitors' supervisor is its linked helper: it lives and dies with the fleet.
        instance = self.instance
        instance.add(SupervisorComponent(instance, MONITORS, Strategy.ONE_FOR_ONE, True), parent=self.name)

    def handle(self, actor: SimActor, effect: Any) -> bool:
        instance = self.instance
        if isinstance(effect, StartMonitor):
            key = monitor_key(effect.node_id)
            instance.specs[key] = MonitorComponent(instance, effect.hostname, effect.url, actor.state)
            instance.tell_supervisor(MONITORS, AddChild(Child(key, label=monitor_name(effect.hostname))))
        elif isinstance(effect, StopMonitor):
            instance.tell_supervisor(MONITORS, RemoveChild(monitor_key(effect.node_id)))
        elif isinstance(effect, TellMonitors):
            for name, child in list(instance.actors.items()):
                if instance.parent.get(name) == MONITORS and child.alive:
                    instance.send(actor.name, child, effect.message)
        else:
            return False
        return True


class MonitorComponent(Component):
    """actors/vault_monitor.py over neon_cm/monitoring.py's VaultMonitoring."""

    start_event = MonitorStarted()

    def __init__(self, instance: Instance, hostname: str, url: str, fleet: Fleet) -> None:
        self.instance = instance
        self.hostname = hostname
        self.url = url
        self.name = monitor_name(hostname)
        self.fleet = fleet
        self.vault = VaultCalls(instance.world.vaults[hostname], old_garbage_crash=4 in instance.world.old)

    def make(self) -> VaultMonitoring:
        # Interval and role as they are when (re)started (actors/vault_fleet.monitor_spec).
        fleet = self.instance.actors.get("vault-fleet")
        state: Fleet = fleet.state if fleet is not None and fleet.alive else self.fleet
        return VaultMonitoring(self.hostname, self.url, state.interval, state.role)

    def view(self, actor: SimActor) -> list[Any]:
        return [] if actor.state.last is None else [actor.state.last]

    def call(self, effect: Any) -> Call | None:
        if isinstance(effect, Probe):
            hung = Probed(VaultState.UNREACHABLE, "no answer in time")
            return Call(self.vault.probe, f"vault:{self.hostname}", VAULT_SECONDS, hung)
        return None

    def handle(self, actor: SimActor, effect: Any) -> bool:
        if isinstance(effect, AskUnsealer):
            if not self.instance.send_to(actor.name, "unsealer", effect.request):
                actor.pending.append(UnsealerAbsent())
            return True
        return False


class UnsealerComponent(Component):
    """actors/unsealer.py over neon_cm/unsealing.py's Unsealing: each Vault call in a thread of its node's, which
    checks at the moment a share or a reset would go out that its attempt was not cancelled and the lease's
    deadline has not come (else NotSent)."""

    name = "unsealer"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.cancelled: list[tuple[int, str, int]] = []
        """(incarnation, node, attempt) cancelled; a crashed Unsealer's threads send nothing more."""

    def make(self) -> Unsealing:
        return Unsealing(len(self.instance.world.credentials))

    def call(self, effect: Any) -> Call | None:
        return None  # every call of the Unsealer's is made in a thread of its own (handle)

    def switch_call(self, effect: ReadSwitch) -> Call:
        """The switch's read, as the Unsealer's thread makes it."""
        consul = self.instance.world.consul

        def read(now: float) -> Any:
            if not consul.reachable(now):
                return SwitchUnreadable(effect.hostname, effect.url, "ConnectionError: Connection refused")
            if now < consul.refusing_until:
                return SwitchUnreadable(effect.hostname, effect.url, "ACLPermissionDenied: 403 Permission denied")
            reply = consul.kv_get(now, DISABLE_AUTO_UNSEAL_KEY)
            if reply.status not in (200, 404):
                return SwitchUnreadable(effect.hostname, effect.url, f"ConsulException: {reply.status} {reply.body}")
            text = reply.body[0]["Value"].decode() if reply.status == 200 else None
            return SwitchRead(effect.hostname, effect.url, text)

        hung = SwitchUnreadable(effect.hostname, effect.url, "ReadTimeout: read timed out")
        return Call(read, "consul", CONSUL_TIMEOUT, hung)

    def handle(self, actor: SimActor, effect: Any) -> bool:
        instance = self.instance
        if isinstance(effect, ReadSwitch):
            incarnation = actor.incarnation
            # Its own thread (actors/unsealer.py): a hung Consul holds that read, not the Unsealer.
            instance.world.perform(instance, self.switch_call(effect), lambda read: actor.deliver(read, incarnation))
        elif isinstance(effect, (ReadSealStatus, SubmitShare, ResetProgress)):
            incarnation = actor.incarnation
            # The node's thread starts a moment later (a pause can fall in between: it checks then).
            instance.after(instance.world.message_delay(), lambda: self.node_call(actor, effect, incarnation))
        elif isinstance(effect, CancelAttempt):
            self.cancelled.append((actor.incarnation, effect.hostname, effect.attempt))
        elif isinstance(effect, AnswerMonitor):
            instance.send_to(actor.name, monitor_name(effect.finished.hostname), effect.finished)
        else:
            return False
        return True

    def node_call(self, actor: SimActor, effect: Any, incarnation: int) -> None:
        world = self.instance.world
        host, attempt = effect.hostname, effect.attempt

        def answer(outcome: Any) -> None:
            actor.deliver(VaultAnswered(host, attempt, outcome), incarnation)

        if isinstance(effect, (SubmitShare, ResetProgress)):
            if actor.incarnation != incarnation or (incarnation, host, attempt) in self.cancelled:
                answer(NotSent("the attempt was cancelled"))
                return
            if world.loop.now >= effect.not_after:
                answer(NotSent("this instance's lease on the lock ran out before the share went out"))
                return
        vault = VaultCalls(world.vaults[host])
        hung = Unreachable(UnreachableKind.TIMEOUT, "no answer in time")
        if isinstance(effect, ReadSealStatus):
            call = Call(vault.seal_status, f"vault:{host}", VAULT_SECONDS, hung)
        elif isinstance(effect, SubmitShare):
            share = Secret(world.credentials[effect.index])
            call = Call(lambda now: vault.unseal(now, share), f"vault:{host}", VAULT_SECONDS, hung, share=host)
        else:
            # A reset counts as a share for "never two unsealers": it discards what another unsealer gave.
            call = Call(lambda now: vault.unseal(now, None), f"vault:{host}", VAULT_SECONDS, hung, share=host)
        world.perform(self.instance, call, answer)


class OldUnsealerComponent(Component):
    """The Unsealer before issue 17 (sim/standin.OldUnsealer)."""

    name = "unsealer"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> standin.OldUnsealer:
        return standin.OldUnsealer(len(self.instance.world.credentials))

    def call(self, effect: Any) -> Call | None:
        world = self.instance.world
        if isinstance(effect, (standin.ReadSeal, standin.SendShare, standin.ResetSeal)):
            vault = world.vaults[effect.hostname]
            host = effect.hostname

            def apply(now: float) -> Any:
                if isinstance(effect, standin.ReadSeal):
                    reply = vault.seal_status(now)
                elif isinstance(effect, standin.SendShare):
                    reply = vault.unseal(now, world.credentials[effect.index])
                else:
                    reply = vault.unseal(now, None, reset=True)
                if reply.status == 400:
                    return standin.SealRead(host, error=f"Vault rejected the unseal key: {reply.body}", rejected=True)
                if reply.status != 200 or not isinstance(reply.body, dict):
                    return standin.SealRead(host, error=f"unseal attempt failed ({reply.status})")
                body = reply.body
                return standin.SealRead(host, body["sealed"], body["t"], body["progress"])

            share = host if isinstance(effect, (standin.SendShare, standin.ResetSeal)) else ""
            return Call(apply, f"vault:{host}", 3.0, standin.SealRead(host, error="timed out"), share)
        return None

    def handle(self, actor: SimActor, effect: Any) -> bool:
        if isinstance(effect, standin.TellMonitor):
            self.instance.send_to(actor.name, monitor_name(effect.hostname), effect.message)
            return True
        return False


#: Docker restarts a container whose health check fails this long after health turns red (interval x retries).
CONTAINER_RESTART_SECONDS = 3.0
#: A Vault request's timeout (gateways.vault.VAULT_TIMEOUT: 2 s to connect, 3 s to read).
VAULT_SECONDS = 5.0
#: The sim's supervisors back off from 0.5 s doubling to 4 s (the service's: 1 s to 60 s), so a seed stays short.
BACKOFF = (0.5, 4.0)
#: And give up after 3 restarts in 60 s (the service: 5), so that a crash loop, cut when the faults stop, can exhaust
#: the intensity (5 restarts take 11.5 s of backoff here, longer than any crash loop: give-up was never reached).
INTENSITY = (3, 60.0)
#: The fleet's supervisor of its monitors (actors/vault_fleet.py), by the name it logs under.
MONITORS = "vault-monitors"


@attrs.frozen
class OldSupervision(Supervision):
    """The supervisor before issue 17 (defect 2): one generation for all children, so the restart timer of one
    crash makes every older pending restart stale; those children are never started again."""

    def decide(self, event: Any, now: float) -> Decision[Supervision]:
        state, effects = super().decide(event, now)
        timers = [effect.key for effect in effects if isinstance(effect, StartTimer)]
        if isinstance(event, ChildDied) and timers:
            pending = {key: timer for key, timer in state.pending.items() if timer == timers[-1]}
            state = attrs.evolve(state, pending=pending)
        return state, effects


class SupervisorComponent(Component):
    """actors/supervisor.py over neon_cm/supervision.py's Supervision."""

    start_event = Begin()

    def __init__(self, instance: Instance, name: str, strategy: Strategy, has_parent: bool) -> None:
        self.instance = instance
        self.name = name
        self.strategy = strategy
        self.has_parent = has_parent

    def make(self) -> Supervision:
        children = tuple(Child(key) for key, parent in self.instance.tree if parent == self.name)
        kind = OldSupervision if 2 in self.instance.world.old else Supervision
        return kind(self.name, self.strategy, self.has_parent, children, backoff=BACKOFF, intensity=INTENSITY)

    def view(self, actor: SimActor) -> list[Any]:
        return []

    def handle(self, actor: SimActor, effect: Any) -> bool:
        instance = self.instance
        if isinstance(effect, StartChild):
            instance.start_child(self.name, effect.key)
        elif isinstance(effect, StopChildren):
            kept = {child.key for child in actor.state.children}  # a child no longer supervised is not coming back
            for key, _ in effect.children:
                instance.halt(instance.name_of(key), removed=key not in kept)
        elif isinstance(effect, LogCrash):
            instance.world.logged(instance, actor.name, log(Level.ERROR, effect.text))
        elif isinstance(effect, Escalate):
            actor.crash(f"SupervisionFailed: {effect.reason}")
        else:
            return False
        return True


def wire(instance: Instance) -> None:
    """Start the instance's tree (neon_cm_main.service_tree): its top supervisor starts the rest in order."""
    instance.add(SupervisorComponent(instance, "service", Strategy.ONE_FOR_ONE, False), parent=None)


def monitor_name(hostname: str) -> str:
    """actors/vault_fleet.monitor_name: a monitor's name in the log and the directory."""
    return f"vault-monitor:{hostname}"


def monitor_key(node_id: str) -> str:
    """actors/vault_fleet.monitor_key: a monitor's key in the fleet's supervisor."""
    return f"vault-monitor@{node_id}"
