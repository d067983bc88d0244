"""The actors' lives in the world of the real service (sim/cluster.py), as sim/judge.py's records: when each actor of
an instance started, died and was started again (told by the runtime as each actor's loop starts and ends:
SimRuntime.lives), the restarts its supervisor decided and their backoff, and the actors health names (both from the
supervisors' own log lines), and the monitors each instance's fleet wants (its running fleet's view).

An actor is named as its supervisor names it (its `register_as`: `unsealer`, `vault-monitor:<host>`), a supervisor
by its own name (`service`, `vault-monitors`); helpers (Tickers, watch actors) are not followed: their death is
their owner's (an Erlang link), which is followed.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from actors.base import LinkedActor
from actors.runtime import RuntimeActor
from actors.supervisor import Supervisor
from actors.vault_fleet import VaultFleet
from messages.log import LogEntry
from neon_cm.fleet import Fleet
from sim import judge as j

#: A supervisor's line as it restarts a child (neon_cm/supervision.py's `died`): whom, and after which backoff.
RESTARTING = re.compile(r"; restarting (?P<whom>.+) in (?P<delay>[0-9.]+) s$")
#: The top supervisor's line as it gives up: the children it leaves stopped, which health names.
LEAVING = re.compile(r"; leaving (?P<names>.+) stopped \(the service is unhealthy\)$")
SUPERVISOR = "supervisor:"


def name_of(actor: Any) -> str | None:
    """The name an actor is followed under; None for a helper."""
    if isinstance(actor, Supervisor):
        return actor.supervisor_name
    return getattr(actor, "register_as", None)


def supervisors(actor: LinkedActor, by_urn: dict[str, RuntimeActor]) -> tuple[str, ...]:
    """The names of the actors above `actor` (its parent first), as far as the top supervisor."""
    chain: list[str] = []
    parent = actor.parent
    while parent is not None:
        above = by_urn.get(parent.actor_urn)
        if not isinstance(above, LinkedActor):
            break
        name = name_of(above)
        if name is not None:
            chain.append(name)
        parent = above.parent
    return tuple(chain)


class Lives:
    """Records of the actors' lives of every instance, as they happen."""

    def __init__(self) -> None:
        self.records: list[j.Record] = []
        self.current: dict[tuple[str, str], RuntimeActor] = {}
        """Per (instance, name): the latest actor started under it."""
        self.chains: dict[tuple[str, str], tuple[str, ...]] = {}
        """Per (instance, name): the supervisors of its latest actor, read as it started (see `told`)."""
        self.wanted: dict[str, tuple[str, ...]] = {}
        self.hosts: dict[str, tuple[str, ...]] = {}
        self.by_urn: dict[str, RuntimeActor] = {}
        self.stopping: set[str] = set()
        """Instances told SIGTERM: their actors stop with the process, none of them dead unseen."""
        self.died: dict[tuple[str, str], float] = {}
        """Per (instance, name): when its latest actor died (a supervisor's line about it comes after)."""

    def take(self) -> list[j.Record]:
        records, self.records = self.records, []
        return records

    def told(self, now: float, instance: str, actor: RuntimeActor, started: bool) -> None:
        """SimRuntime.lives: `actor` of `instance` started (True) or its loop ended (False)."""
        if started:
            self.by_urn[actor.actor_urn] = actor
        name = name_of(actor)
        if name is None:
            return
        key = (instance, name)
        if started:
            before = self.current.get(key)
            self.current[key] = actor
            # Read now, while every actor above it runs: by its death its parent may have stopped (a fleet's cleanup
            # stops its monitors' supervisor after the fleet's own stop was set) and been dropped from `by_urn` (any
            # instance's kill drops every stopped actor), which left the chain empty (seed 2311: i2's vault-monitors,
            # dying 1.3 s after its crashed fleet, judged as an actor with no supervisor, never restarted).
            self.chains[key] = supervisors(actor, self.by_urn) if isinstance(actor, LinkedActor) else ()
            kind = j.ActorStarted if before is None else j.ActorRestarted
            self.records.append(kind(now, instance, name))
        elif self.current.get(key) is actor and instance in self.stopping:
            self.records.append(j.ActorRemoved(now, instance, name))  # stopped with its process (SIGTERM)
            del self.current[key]
            self.chains.pop(key, None)
        elif self.current.get(key) is actor:
            self.records.append(j.ActorDied(now, instance, name, self.chains.get(key, ())))
            self.died[key] = now

    def killed(self, now: float, instance: str) -> None:
        """The instance's process was killed: its actors are gone with it (its container restarting is recorded by
        the world), none of them dead unseen."""
        self.records.append(j.ContainerExited(now, instance))
        for key in sorted(key for key in self.current if key[0] == instance):
            self.records.append(j.ActorRemoved(now, instance, key[1]))
            del self.current[key]
            self.chains.pop(key, None)
        self.by_urn = {urn: actor for urn, actor in self.by_urn.items() if not actor.actor_stopped.is_set()}
        self.wanted.pop(instance, None)
        self.hosts.pop(instance, None)
        self.stopping.discard(instance)

    def logged(self, t: float, instance: str, entry: LogEntry) -> None:
        """A supervisor's line: a restart decided (with its backoff), or health naming the children left stopped."""
        if not entry.component.startswith(SUPERVISOR):
            return
        restarting = RESTARTING.search(entry.message)
        if restarting is not None:
            whom = restarting.group("whom")
            names = [entry.message.split(" ", 1)[0]] if whom == "it" else whom.split(", ")
            delay = float(restarting.group("delay"))
            for name in names:
                # Decided after the death it answers (the log's clock is the wall's: a rounding earlier at most).
                at = max(t, self.died.get((instance, name), t))
                self.records.append(j.RestartScheduled(at, instance, name, delay))
            return
        leaving = LEAVING.search(entry.message)
        if leaving is not None:
            for name in leaving.group("names").split(", "):
                self.records.append(j.HealthNamed(t, instance, name))

    def look(self, now: float, instance: str) -> None:
        """The monitors the instance's running fleet wants (none while its fleet is dead): by their names, and by the
        hosts of their Vaults' URLs (what the judge knows a Vault by)."""
        fleet = self.current.get((instance, "vault-fleet"))
        alive = isinstance(fleet, VaultFleet) and not fleet.actor_stopped.is_set()
        state = fleet.state if alive and isinstance(fleet, VaultFleet) else Fleet()
        wanted, hosts = state.hostnames(), vault_hosts(state)
        if self.wanted.get(instance) != wanted or self.hosts.get(instance) != hosts:
            self.wanted[instance], self.hosts[instance] = wanted, hosts
            self.records.append(j.MonitorsWanted(now, instance, wanted, hosts))


def vault_hosts(fleet: Fleet) -> tuple[str, ...]:
    """The Vaults `fleet` monitors as the world and the judge know them: the host of each one's URL, lower-cased (as
    sim/cluster.py reads a monitor's line), which under http://{addr}:8200 is the node's address, not the monitor's
    name (long-run seed 2843)."""
    return tuple(
        sorted((urllib.parse.urlsplit(watched.url).hostname or "").lower() for watched in fleet.watched.values())
    )
