"""One simulated service instance: its actors wired as neon_cm_main.WIRING wires them, its supervision, its
pauses; the components that tell the sim how to run each actor's decider."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from messages.leadership import BecameLeader, LeaseExtended, LostLeadership
from messages.lifecycle import SupervisionGaveUp
from messages.swarm import SwarmNode
from messages.vault import UnsealFinished, VaultState
from neon_cm.lease import Lease, Start, Stop
from neon_cm.publishing import Publishing, StoredBase
from neon_cm.encoding import decode_definition, definition_hash
from neon_cm.decider import Decision
from neon_cm_main import WIRING
from sim import standin
from sim.gateways import Call, ConsulCalls
from sim.shell import Component, SimActor

if TYPE_CHECKING:
    from sim.world import World


class Instance:
    """A service instance: actors by name, who hears whom, and whether the whole process is paused."""

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.name = name
        self.actors: dict[str, SimActor] = {}
        self.paused_until = 0.0
        self.paused_from = 0.0
        self.gave_up: list[str] = []
        self.delivered: dict[tuple[str, str], float] = {}
        self.consul = ConsulCalls(world.consul, name, old_check_answers=1 in world.old)
        self.consul.on_write = world.definition_written
        self.supervisor: SimActor | None = None

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

    # ------------------------------------------------------------------ actors

    def add(self, component: Component, start: bool = True) -> SimActor:
        actor = SimActor(self, component)
        self.actors[component.name] = actor
        if start:
            actor.start()
        return actor

    def stop(self, name: str) -> None:
        """Stop an actor on purpose (the fleet stopping a monitor): not a death."""
        actor = self.actors.pop(name, None)
        if actor is not None:
            actor.alive = False
            actor.incarnation += 1

    def child_exited(self, actor: SimActor) -> None:
        if self.supervisor is not None and self.supervisor.alive:
            self.supervisor.deliver(standin.ChildDied(actor.name), self.supervisor.incarnation)

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
        if isinstance(message, SupervisionGaveUp):
            self.gave_up.append(message.actor)
        for name in WIRING.get(self.kind(source.name), ()):
            for actor in self.actors.values():
                if self.kind(actor.name) == name and actor.alive and name != "vault-monitor":
                    self.send(source.name, actor, message)

    def send(self, sender: str, actor: SimActor, message: Any) -> None:
        """Tell `actor` `message` after a seeded delay, in order per sender and receiver (pykka's mailboxes)."""
        world = self.world
        if world.dropping(self, actor.name):
            world.record(self.name, actor.name, f"DROPPED {message!r}"[:200], ())
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


@attrs.frozen
class OldPublishing(Publishing):
    """The publisher's old behaviours, on the new decider: the decoded base cached by ModifyIndex alone (defect 7),
    and a BecameLeader ignored while it already leads, keeping a dead session (defect 3)."""

    old: frozenset[int] = frozenset()

    def decide(self, event: object, now: float) -> Decision[Publishing]:
        if 3 in self.old and isinstance(event, BecameLeader) and self.leading:
            return self, ()
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


class ListingComponent(Component):
    """The SwarmWatcher (stand-in decider: sim/standin.Listing)."""

    name = "swarm-watcher"
    start_event = standin.Started()

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> standin.Listing:
        return standin.Listing(self.instance.world.node_poll)

    def call(self, effect: Any) -> Call | None:
        docker = self.instance.world.docker
        if isinstance(effect, standin.ListNodes):

            def listed(now: float) -> Any:
                reply = docker.list_nodes(now)
                return standin.NodesListed(tuple(SwarmNode.from_docker(node) for node in reply.body))

            return Call(listed, "docker", 10.0, standin.ListingFailed("ReadTimeout: timed out"))
        return None


class FleetComponent(Component):
    """The VaultFleet (stand-in decider: sim/standin.Fleet); its monitors are actors of the instance."""

    name = "vault-fleet"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> standin.Fleet:
        return standin.Fleet()

    def handle(self, actor: SimActor, effect: Any) -> bool:
        instance = self.instance
        if isinstance(effect, standin.StartMonitor):
            instance.add(MonitorComponent(instance, effect.hostname))
        elif isinstance(effect, standin.StopMonitor):
            instance.stop(f"vault-monitor:{effect.hostname}")
        elif isinstance(effect, standin.TellMonitor):
            instance.send_to(actor.name, f"vault-monitor:{effect.hostname}", effect.message)
        else:
            return False
        return True


class MonitorComponent(Component):
    """A VaultMonitor (stand-in decider: sim/standin.Monitor)."""

    start_event = standin.Started()

    def __init__(self, instance: Instance, hostname: str) -> None:
        self.instance = instance
        self.hostname = hostname
        self.name = f"vault-monitor:{hostname}"

    def make(self) -> standin.Monitor:
        return standin.Monitor(self.hostname, self.instance.world.vault_poll)

    def call(self, effect: Any) -> Call | None:
        if isinstance(effect, standin.ProbeVault):
            vault = self.instance.world.vaults[effect.hostname]
            old = 4 in self.instance.world.old

            def probe(now: float) -> Any:
                reply = vault.seal_status(now)
                if reply.status != 200 or not isinstance(reply.body, dict):
                    if old:
                        raise SimCrash("AttributeError: 'NoneType' object has no attribute 'get'")
                    return standin.VaultProbed(VaultState.UNEXPECTED, f"{reply.status} without a seal status")
                if reply.body["sealed"]:
                    return standin.VaultProbed(VaultState.SEALED, f"{reply.body['progress']}/{reply.body['t']}")
                return standin.VaultProbed(VaultState.UNSEALED, "active")

            return Call(probe, f"vault:{effect.hostname}", 3.0, standin.VaultProbed(VaultState.UNREACHABLE, "timeout"))
        return None

    def handle(self, actor: SimActor, effect: Any) -> bool:
        if isinstance(effect, standin.TellUnsealer):
            if not self.instance.send_to(actor.name, "unsealer", effect.request):
                self.instance.send(actor.name, actor, UnsealFinished(self.hostname, False, "no unsealer"))
            return True
        return False


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

            share = host if isinstance(effect, standin.SendShare) else ""
            return Call(apply, f"vault:{host}", 3.0, standin.SealRead(host, error="timed out"), share)
        return None

    def handle(self, actor: SimActor, effect: Any) -> bool:
        if isinstance(effect, standin.TellMonitor):
            self.instance.send_to(actor.name, f"vault-monitor:{effect.hostname}", effect.message)
            return True
        return False


class SupervisorComponent(Component):
    """The instance's supervision (stand-in decider: sim/standin.Supervision, one-for-one over every actor)."""

    name = "supervisor"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def make(self) -> standin.Supervision:
        return standin.Supervision(shared_generation=2 in self.instance.world.old)

    def handle(self, actor: SimActor, effect: Any) -> bool:
        if isinstance(effect, standin.StartChild):
            child = self.instance.actors.get(effect.name)
            if child is not None and not child.alive:
                child.start()
                self.instance.world.restarted(self.instance, child)
            return True
        return False


class SimCrash(Exception):
    """An old behaviour's crash (a gateway raising on an answer it did not expect): the actor dies of it."""


def wire(instance: Instance) -> None:
    """Start the instance's actors in neon_cm_main's order."""
    instance.supervisor = instance.add(SupervisorComponent(instance))
    instance.add(LeadershipComponent(instance))
    instance.add(OldUnsealerComponent(instance))
    instance.add(FleetComponent(instance))
    instance.add(ListingComponent(instance))
    instance.add(PublisherComponent(instance))


__all__ = ["Instance", "LostLeadership", "LeaseExtended", "wire"]
