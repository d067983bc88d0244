"""What both worlds record of the simulated servers' own state: the Swarm as it changes, and the definition and hash
Consul holds. One watcher per run, asked after every step; each change becomes one record for sim/judge.py."""

from __future__ import annotations

from messages.swarm import SwarmNode
from neon_cm.definition import build_nodes
from neon_cm.encoding import decode_definition
from neon_cm.keys import DEFINITION_KEY, HASH_KEY
from sim import judge as j
from sim.consul import SimConsul
from sim.docker import SimDocker


class ServerWatch:
    """The Swarm's and Consul's state last recorded, and the records of what changed since."""

    def __init__(self) -> None:
        self.swarm_events = -1
        self.stored: tuple[bytes | None, bytes | None] | None = None

    def changes(self, now: float, docker: SimDocker, consul: SimConsul) -> list[j.Record]:
        """SwarmChanged when Docker saw an event since the last look, DefinitionStored when the definition or its
        hash in Consul differ from what was last recorded."""
        records: list[j.Record] = []
        if len(docker.events) != self.swarm_events:
            self.swarm_events = len(docker.events)
            built = build_nodes(SwarmNode.from_docker(node) for node in docker.nodes)
            # Nodes sharing a hostname: the definition must not be published (nothing to follow or converge to).
            records.append(j.SwarmChanged(now, None if built.duplicates else built.nodes))
        entry, hash_entry = consul.kv.get(DEFINITION_KEY), consul.kv.get(HASH_KEY)
        stored = (entry.value if entry else None, hash_entry.value if hash_entry else None)
        if stored != self.stored:
            self.stored = stored
            definition = decode_definition(stored[0]) if stored[0] is not None else None
            records.append(j.DefinitionStored(now, definition, stored[1].decode() if stored[1] is not None else None))
        return records
