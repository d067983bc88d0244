"""What the Vault fleet decides: which managers' Vaults to monitor, at which URL, and what its monitors are told.

A decider (neon_cm/decider.py). Events: the Swarm's node listing, the settings, this instance's role. Effects:
start or stop one monitor (keyed by the manager's node ID, so two managers with one hostname get two monitors, each
known downstream by a name of its own: monitored_name),
tell every monitor the poll interval or the reporting role, logs, and the list of watched managers for health.

A Docker problem never leaves the Vaults unwatched: while no node listing has succeeded since start (a version
refusal, a dead proxy, a hung daemon), the managers named in the cluster definition stored in Consul stand in for the
Swarm's (read once a listing fails; said once at WARN), until a listing succeeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from messages.consul_answers import ConsulRefused, ConsulUnreachable, DefinitionRead
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeListFailed, NodesObserved, SwarmNode
from messages.timing import SetInterval
from messages.vault import MonitoringStopped, ReportingRole, VaultsToMonitor
from neon_cm.decider import Decision, Publish, log
from neon_cm.encoding import DefinitionFormatError, decode_definition
from neon_cm.keys import DEFINITION_KEY, DEFINITION_PREFIX
from neon_cm.vault import UnusableNode, vault_url

#: The node ID prefix of a manager known from the stored definition alone (Docker's IDs never hold a `:`).
STORED = "stored:"


@attrs.frozen
class Watched:
    """What a running monitor was started for."""

    hostname: str
    """What the manager's Vault is known by (monitored_name): its hostname, lower-cased, with its node ID while
    another manager shares that hostname."""
    url: str
    """Its Vault's URL, from the template."""


@attrs.frozen
class StartMonitor:
    """Effect: start a monitor for the Vault of manager `node_id` (with the current interval and role)."""

    node_id: str
    hostname: str
    url: str


@attrs.frozen
class StopMonitor:
    """Effect: stop the monitor of manager `node_id` (and wait for it: no reading of it follows)."""

    node_id: str
    hostname: str


@attrs.frozen
class TellMonitors:
    """Effect: tell every running monitor `message` (a SetInterval or a ReportingRole)."""

    message: Any


@attrs.frozen
class ReadStoredManagers:
    """Effect: read the stored cluster definition (GET /v1/kv/neon/cluster/definition.?recurse), for its managers.
    Answer: DefinitionRead, ConsulUnreachable or ConsulRefused."""

    prefix: str = DEFINITION_PREFIX


def stored_managers(answer: DefinitionRead) -> tuple[dict[str, SwarmNode], str | None]:
    """The managers the stored definition's `Nodes` names (`Role` manager or `IsManager`), by a node ID of their own
    (`stored:<name>`), their `PrivateAddress` standing in for the manager address; or why there are none."""
    item = answer.get(DEFINITION_KEY)
    if item is None or item.value is None:
        return {}, f"no cluster definition at {DEFINITION_KEY}"
    try:
        definition = decode_definition(item.value)
    except DefinitionFormatError as error:
        return {}, f"{DEFINITION_KEY} is unreadable: {error}"
    nodes = definition.get("Nodes")
    managers: dict[str, SwarmNode] = {}
    for key, node in (nodes if isinstance(nodes, dict) else {}).items():
        if not isinstance(node, dict) or not (node.get("Role") == "manager" or node.get("IsManager") is True):
            continue
        given_name, given_address = node.get("Name"), node.get("PrivateAddress")
        name = given_name if isinstance(given_name, str) and given_name else str(key)
        address = given_address if isinstance(given_address, str) else ""
        node_id = STORED + name
        managers[node_id] = SwarmNode(node_id, name, "manager", address, address)
    return managers, None if managers else f"the cluster definition at {DEFINITION_KEY} names no manager"


@attrs.frozen
class Wanted:
    """The monitors the managers and the template call for, and what stands in the way of the others."""

    watched: Mapping[str, Watched]
    """By node ID."""
    without_address: frozenset[str]
    """Managers whose Vault URL needs a manager address Docker has not given yet."""
    template_error: str | None
    """Why the template cannot make a URL (`Type: text`), if it cannot."""
    unusable: Mapping[str, str] = attrs.field(factory=dict)
    """Managers whose hostname or address cannot be a URL's host (by node ID): why. Never monitored or unsealed."""


def wanted(managers: Mapping[str, SwarmNode], template: str) -> Wanted:
    """The monitors `managers` (by node ID) call for under `vault_url_template` = `template`."""
    watched: dict[str, Watched] = {}
    without_address: set[str] = set()
    error: str | None = None
    unusable: dict[str, str] = {}
    hostnames = Counter(node.hostname.lower() for node in managers.values())
    for node_id, node in managers.items():
        try:
            url = vault_url(template, node)
        except UnusableNode as problem:
            unusable[node_id] = str(problem)
            continue
        except (KeyError, IndexError, ValueError, AttributeError) as problem:
            error = f"{type(problem).__name__}: {problem}"
            continue
        if url is None:
            without_address.add(node_id)
        else:
            watched[node_id] = Watched(monitored_name(node, hostnames[node.hostname.lower()] > 1), url)
    return Wanted(watched, frozenset(without_address), error, unusable)


def monitored_name(node: SwarmNode, shared: bool) -> str:
    """What a manager's Vault is known by downstream (its monitor's name, the Unsealer's attempts, the `node` label
    of the metrics, the log lines): its hostname, lower-cased, or, while another manager has the same hostname,
    that and its node ID (`manager-1 (node 6b2c...)`), so that two nodes never share an attempt or a series."""
    hostname = node.hostname.lower()
    return f"{hostname} (node {node.id})" if shared else hostname


@attrs.frozen
class Fleet:
    """The fleet's state. Monitoring waits for the first settings (defaults until Consul answers are given by
    the SettingsWatcher), never for the lock."""

    settings: Settings | None = None
    managers: Mapping[str, SwarmNode] = attrs.field(factory=dict)
    """The managers of the last listing, by node ID."""
    watched: Mapping[str, Watched] = attrs.field(factory=dict)
    """The running monitors, by node ID."""
    without_address: frozenset[str] = frozenset()
    """Managers already said to have no manager address yet."""
    standby_of: str | None = None
    role_known: bool = False
    """Whether Leadership has said yet whether this instance reports or stands by."""
    bad_template: str | None = None
    """The template last said to be unusable (said once per template)."""
    unusable: Mapping[str, str] = attrs.field(factory=dict)
    """Managers already said to be unusable in a URL (by node ID): why (said again only when that changes)."""
    listed: bool = False
    """Whether a node listing has succeeded since start (the stored definition's managers then never stand in)."""
    reading_stored: bool = False
    """Whether the stored definition is being read for its managers."""
    stored_said: bool = False
    """Whether the WARN saying the stored definition stands in (or cannot) was said."""

    @property
    def role(self) -> ReportingRole | None:
        """What a monitor started now is told about reporting; None until Leadership has said."""
        return ReportingRole(self.standby_of) if self.role_known else None

    @property
    def interval(self) -> float:
        return (self.settings or Settings()).vault_poll_seconds

    def hostnames(self) -> tuple[str, ...]:
        """The watched managers, for health (VaultsToMonitor)."""
        return tuple(sorted(watched.hostname for watched in self.watched.values()))

    def decide(self, event: Any, now: float) -> Decision[Fleet]:
        if isinstance(event, NodesObserved):
            managers = {node.id: node for node in event.nodes if node.role == "manager"}
            effects: tuple[Any, ...] = ()
            if any(node_id.startswith(STORED) for node_id in self.managers):
                effects = (log(Level.INFO, "Docker listed the Swarm: monitoring the Vaults of its managers"),)
            state, reconciled = attrs.evolve(self, managers=managers, listed=True).reconcile()
            return state, (*effects, *reconciled)
        if isinstance(event, NodeListFailed):
            if self.listed or self.reading_stored or self.managers:
                return self, ()
            return attrs.evolve(self, reading_stored=True), (ReadStoredManagers(),)
        if isinstance(event, (DefinitionRead, ConsulUnreachable, ConsulRefused)):
            return self.stored(event)
        if isinstance(event, SettingsChanged):
            previous = self.settings
            state, effects = attrs.evolve(self, settings=event.settings).reconcile()
            if previous is not None and previous.vault_poll_seconds != event.settings.vault_poll_seconds:
                effects = (TellMonitors(SetInterval(event.settings.vault_poll_seconds)), *effects)
            return state, effects
        if isinstance(event, (BecameLeader, LostLeadership, StandingBy)):
            standby_of = event.holder if isinstance(event, StandingBy) else None
            if standby_of == self.standby_of and self.role_known:
                return self, ()
            return attrs.evolve(self, standby_of=standby_of, role_known=True), (
                TellMonitors(ReportingRole(standby_of)),
            )
        return self, ()

    def stored(self, answer: DefinitionRead | ConsulUnreachable | ConsulRefused) -> Decision[Fleet]:
        """The stored definition's managers stand in while Docker has listed nothing since start."""
        state = attrs.evolve(self, reading_stored=False)
        if state.listed:
            return state, ()
        if isinstance(answer, DefinitionRead):
            managers, problem = stored_managers(answer)
        else:
            refusal = answer.reason if isinstance(answer, ConsulUnreachable) else answer.detail
            managers, problem = {}, f"Consul: {refusal}"
        said: tuple[Any, ...] = ()
        if not state.stored_said:
            if managers:
                names = ", ".join(sorted(node.hostname for node in managers.values()))
                text = (
                    "no node listing from Docker since start: monitoring the Vaults of the managers the stored"
                    f" cluster definition names ({names}) until a listing succeeds"
                )
            else:
                text = (
                    f"no node listing from Docker since start, and no manager from the stored cluster definition"
                    f" ({problem}): no Vault is monitored until a listing succeeds"
                )
            said = (log(Level.WARN, text),)
        state = attrs.evolve(state, stored_said=True)
        if not managers:
            return state, said
        state, effects = attrs.evolve(state, managers=managers).reconcile()
        return state, (*said, *effects)

    def reconcile(self) -> Decision[Fleet]:
        """Start a monitor for each new manager, stop those of departed ones, restart those whose URL changed."""
        if self.settings is None:
            return self, ()
        template = self.settings.vault_url_template
        want = wanted(self.managers, template)
        effects: list[Any] = []
        bad_template = self.bad_template
        if want.template_error is not None and bad_template != template:
            effects.append(
                log(Level.ERROR, f"cannot build a Vault URL from vault_url_template ({want.template_error})")
            )
            bad_template = template
        for node_id in sorted(want.without_address - self.without_address, key=lambda n: self.managers[n].hostname):
            hostname = self.managers[node_id].hostname
            effects.append(
                log(Level.INFO, f"{hostname} is a manager without a manager address yet; monitoring it once it has")
            )
        for node_id, why in sorted(want.unusable.items()):
            if self.unusable.get(node_id) != why:
                effects.append(
                    log(
                        Level.ERROR,
                        f"not monitoring or unsealing the Vault on manager {node_id}: {why}, so it cannot be put in "
                        "a Vault URL; nothing is sent to it",
                    )
                )
        watched = dict(self.watched)
        for node_id, running in sorted(self.watched.items(), key=lambda item: (item[1].hostname, item[0])):
            if want.watched.get(node_id) != running:
                effects.append(log(Level.INFO, f"no longer monitoring the Vault on {running.hostname} ({running.url})"))
                effects.append(StopMonitor(node_id, running.hostname))
                effects.append(Publish(MonitoringStopped(running.hostname)))
                del watched[node_id]
        for node_id, new in sorted(want.watched.items(), key=lambda item: (item[1].hostname, item[0])):
            if node_id not in watched:
                effects.append(log(Level.INFO, f"monitoring the Vault on manager {new.hostname} at {new.url}"))
                effects.append(StartMonitor(node_id, new.hostname, new.url))
                watched[node_id] = new
        state = attrs.evolve(
            self,
            watched=watched,
            without_address=want.without_address,
            bad_template=bad_template,
            unusable=want.unusable,
        )
        return state, (*effects, Publish(VaultsToMonitor(state.hostnames())))
